package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
)

// The official client is the peer here. Its azure package cannot be built
// in this module (it needs github.com/Azure/azure-sdk-for-go/sdk/azcore,
// which go.sum lacks and go.mod may not change), so azureOptions does what
// azure.WithEndpoint(url, version) + azure.WithAPIKey(key) do on the wire:
// the endpoint is the base URL, api-version is added to every query, the
// key goes in the Api-Key header, and POSTs to chat/completions,
// completions and embeddings are sent to /openai/deployments/{model}/...
// with the body's model as the deployment.
func azureOptions(endpoint, apiVersion, key string) []option.RequestOption {
	return []option.RequestOption{
		option.WithBaseURL(endpoint + "/"),
		option.WithAPIKey(""),
		option.WithQueryAdd("api-version", apiVersion),
		option.WithHeader("Api-Key", key),
		option.WithMaxRetries(0),
		option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			for _, op := range []string{"/chat/completions", "/completions", "/embeddings"} {
				if r.Method != http.MethodPost || r.URL.Path != op {
					continue
				}
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return nil, err
				}
				var m struct{ Model string }
				if err := json.Unmarshal(body, &m); err != nil {
					return nil, err
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.URL.Path = "/openai/deployments/" + m.Model + op
				r.URL.RawPath = "/openai/deployments/" + url.PathEscape(m.Model) + op
			}
			return next(r)
		}),
	}
}

func openAIOptions(base, key string) []option.RequestOption {
	return []option.RequestOption{option.WithBaseURL(base + "/v1"), option.WithAPIKey(key), option.WithMaxRetries(0)}
}

func TestOfficialClient(t *testing.T) {
	h := newHarness(t, nil)
	clients := []struct {
		name string
		opts []option.RequestOption
	}{
		{"azure 2024-10-21", azureOptions(h.srv.URL, "2024-10-21", keyA)},
		{"azure preview", azureOptions(h.srv.URL, "2025-04-01-preview", keyA)},
		{"openai", openAIOptions(h.srv.URL, keyA)},
		{"azure v1", openAIOptions(h.srv.URL+"/openai", keyA)},
	}
	for _, tc := range clients {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			client := openai.NewClient(tc.opts...)
			chat, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    "chat-dep",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Say hello")},
			})
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			if chat.Choices[0].Message.Content != "Hello!" || chat.Model != "tiny-chat-2025-01-01" || chat.Usage.TotalTokens != 10 {
				t.Errorf("chat = %+v", chat)
			}

			stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:         "chat-dep",
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)},
			})
			var text strings.Builder
			var total int64
			for stream.Next() {
				ch := stream.Current()
				for _, c := range ch.Choices {
					text.WriteString(c.Delta.Content)
				}
				total += ch.Usage.TotalTokens
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if text.String() != "Hello!" || total != 10 {
				t.Errorf("stream text %q, usage %d", text.String(), total)
			}

			emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model: "embed-dep",
				Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
			})
			if err != nil {
				t.Fatalf("embeddings: %v", err)
			}
			if len(emb.Data) != 2 || emb.Data[1].Embedding[0] != 1 || emb.Data[0].Embedding[2] != -1.25 {
				t.Errorf("embeddings = %+v", emb.Data)
			}

			_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:       "chat-dep",
				Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				Temperature: param.NewOpt(3.0),
			})
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "temperature" || apiErr.Code != "decimal_above_max_value" {
				t.Errorf("bad temperature: %v", err)
			}

			_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    "no-such-deployment",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			})
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "DeploymentNotFound" {
				t.Errorf("unknown deployment: %v", err)
			}
		})
	}

	t.Run("wrong key", func(t *testing.T) {
		for _, opts := range [][]option.RequestOption{azureOptions(h.srv.URL, "2024-10-21", "bad"), openAIOptions(h.srv.URL, "bad")} {
			client := openai.NewClient(opts...)
			_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
				Model: "chat-dep", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			})
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
				t.Errorf("wrong key: %v", err)
			}
		}
	})

	t.Run("models", func(t *testing.T) {
		client := openai.NewClient(openAIOptions(h.srv.URL, keyA)...)
		page, err := client.Models.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID+":"+m.OwnedBy)
		}
		if strings.Join(ids, ",") != "chat-dep:cerulean,embed-dep:cerulean" {
			t.Errorf("models %v", ids)
		}
	})
}
