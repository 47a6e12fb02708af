package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// ChatMessage is one turn of a conversation.
type ChatMessage struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// ChatRequest is what Chat sends. Nil fields are left to the server.
type ChatRequest struct {
	Messages    []ChatMessage
	Temperature *float64
	MaxTokens   *int
}

// ChatUsage counts the tokens of one completion.
type ChatUsage struct {
	PromptTokens     int `json:"promptTokens"`
	CompletionTokens int `json:"completionTokens"`
	TotalTokens      int `json:"totalTokens"`
}

// ChatResult is a finished completion: the whole answer, why it stopped and
// what it consumed (zero when the server sent no usage).
type ChatResult struct {
	Content      string    `json:"content"`
	FinishReason string    `json:"finishReason"`
	Usage        ChatUsage `json:"usage"`
}

// maxSSELine bounds one line of the event stream.
const maxSSELine = 4 << 20

// Chat sends a chat completion to the inference API of the server, as the
// OpenAI SDKs do (POST /openai/v1/chat/completions with the project key in
// the api-key header), and streams it: onDelta, when not nil, gets each piece
// of the answer in order as it arrives. A non-2xx answer, or an error event
// in the stream, is an *Error.
func (c *Client) Chat(ctx context.Context, key, deployment string, req ChatRequest, onDelta func(string)) (ChatResult, error) {
	body, err := json.Marshal(chatBody{
		Model:         deployment,
		Messages:      req.Messages,
		Temperature:   req.Temperature,
		MaxTokens:     req.MaxTokens,
		Stream:        true,
		StreamOptions: &streamOptions{IncludeUsage: true},
	})
	if err != nil {
		return ChatResult{}, fmt.Errorf("chat: encode request: %w", err)
	}
	url := strings.TrimRight(c.BaseURL(), "/") + "/openai/v1/chat/completions"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return ChatResult{}, fmt.Errorf("chat: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	hreq.Header.Set("api-key", key)
	resp, err := c.httpClient().Do(hreq)
	if err != nil {
		return ChatResult{}, fmt.Errorf("chat: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ChatResult{}, inferenceError(resp)
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType == "application/json" {
		// The server answered in one body although a stream was asked for.
		return readCompletion(resp.Body, onDelta)
	}
	return readStream(resp.Body, onDelta)
}

type chatBody struct {
	Model         string         `json:"model"`
	Messages      []ChatMessage  `json:"messages"`
	Temperature   *float64       `json:"temperature,omitempty"`
	MaxTokens     *int           `json:"max_tokens,omitempty"`
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// wireUsage is the OpenAI usage object.
type wireUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (u wireUsage) usage() ChatUsage {
	return ChatUsage(u)
}

// chunk is an OpenAI chat.completion.chunk, or an error event.
type chunk struct {
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage  `json:"usage"`
	Error *wireDetail `json:"error"`
}

// completion is an OpenAI chat.completion.
type completion struct {
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
}

// wireDetail is the body of an OpenAI or Azure error envelope. Code is a
// string in most answers but a number in some.
type wireDetail struct {
	Message string          `json:"message"`
	Code    json.RawMessage `json:"code"`
	Param   *string         `json:"param"`
	Type    string          `json:"type"`
}

func (d wireDetail) toError(status int) *Error {
	e := &Error{Status: status, Message: d.Message, Code: rawCode(d.Code)}
	if d.Param != nil {
		e.Target = *d.Param
	}
	if e.Code == "" {
		e.Code = d.Type
	}
	if e.Code == "" && status != 0 {
		e.Code = strconv.Itoa(status)
	}
	return e
}

// rawCode renders an error code that may be a JSON string, number or null.
func rawCode(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" {
		return ""
	}
	return t
}

// inferenceError turns a non-2xx answer into an *Error, whatever its body.
func inferenceError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env struct {
		Error *wireDetail `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err == nil && env.Error != nil && env.Error.Message != "" {
		return env.Error.toError(resp.StatusCode)
	}
	msg := strings.TrimSpace(string(b))
	if msg == "" || len(msg) > 200 {
		msg = http.StatusText(resp.StatusCode)
	}
	return &Error{Status: resp.StatusCode, Code: strconv.Itoa(resp.StatusCode), Message: msg}
}

// readStream reads server-sent events until [DONE]. The first choice is the
// answer; Azure's first chunk, with no choices, only carries filter results.
func readStream(r io.Reader, onDelta func(string)) (ChatResult, error) {
	var (
		res     ChatResult
		content strings.Builder
		data    []string
		done    bool
	)
	dispatch := func() error {
		if len(data) == 0 {
			return nil
		}
		payload := strings.Join(data, "\n")
		data = data[:0]
		if strings.TrimSpace(payload) == "[DONE]" {
			done = true
			return nil
		}
		var ch chunk
		if err := json.Unmarshal([]byte(payload), &ch); err != nil {
			return fmt.Errorf("chat: bad event in stream: %w", err)
		}
		if ch.Error != nil {
			return ch.Error.toError(0)
		}
		if ch.Usage != nil {
			res.Usage = ch.Usage.usage()
		}
		for _, c := range ch.Choices {
			if c.Index != 0 {
				continue
			}
			if c.Delta.Content != nil && *c.Delta.Content != "" {
				content.WriteString(*c.Delta.Content)
				if onDelta != nil {
					onDelta(*c.Delta.Content)
				}
			}
			if c.FinishReason != nil && *c.FinishReason != "" {
				res.FinishReason = *c.FinishReason
			}
		}
		return nil
	}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxSSELine)
	for !done && sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case line == "":
			if err := dispatch(); err != nil {
				res.Content = content.String()
				return res, err
			}
		case strings.HasPrefix(line, ":"): // comment, keeps the connection alive
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		default: // event:, id:, retry: carry nothing we use
		}
	}
	if err := sc.Err(); err != nil {
		res.Content = content.String()
		return res, fmt.Errorf("chat: read stream: %w", err)
	}
	if err := dispatch(); err != nil { // a last event without its blank line
		res.Content = content.String()
		return res, err
	}
	res.Content = content.String()
	if !done && res.FinishReason == "" {
		return res, fmt.Errorf("chat: the stream ended before the answer was complete: %w", io.ErrUnexpectedEOF)
	}
	return res, nil
}

// readCompletion reads a whole chat.completion body.
func readCompletion(r io.Reader, onDelta func(string)) (ChatResult, error) {
	var c completion
	if err := json.NewDecoder(r).Decode(&c); err != nil {
		return ChatResult{}, fmt.Errorf("chat: decode completion: %w", err)
	}
	if len(c.Choices) == 0 {
		return ChatResult{}, errors.New("chat: the completion has no choices")
	}
	var res ChatResult
	if ch := c.Choices[0]; ch.Message.Content != nil {
		res.Content = *ch.Message.Content
	}
	if fr := c.Choices[0].FinishReason; fr != nil {
		res.FinishReason = *fr
	}
	if c.Usage != nil {
		res.Usage = c.Usage.usage()
	}
	if onDelta != nil && res.Content != "" {
		onDelta(res.Content)
	}
	return res, nil
}
