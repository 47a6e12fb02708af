package upstream_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// cannedStream is an OpenAI chat stream of n content chunks, a finish
// chunk, a usage chunk and [DONE].
func cannedStream(n int) []byte {
	var b bytes.Buffer
	const head = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp","choices":[`
	for i := range n {
		fmt.Fprintf(&b, "data: %s{\"index\":0,\"delta\":{\"content\":\" tok%d\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n", head, i)
	}
	fmt.Fprintf(&b, "data: %s{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n", head)
	fmt.Fprintf(&b, "data: %s],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\n", head, n, n+10)
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// BenchmarkChatStream measures the pass-through cost of ChatStream against
// a reference that only reads the same stream off the wire: compare the
// ns/op of the two sub-benchmarks (same process, same server), not either
// alone.
func BenchmarkChatStream(b *testing.B) {
	const chunks = 256
	body := cannedStream(chunks)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(body)
	}))
	defer srv.Close()
	tr := upstream.NewTransport(upstream.DefaultDialTimeout, upstream.DefaultResponseHeaderTimeout, 64)
	defer tr.CloseIdleConnections()
	target := newTarget(srv.URL+"/v1", "k")
	req := chatReq(strings.Repeat("hello ", 20))

	b.Run("reference-read", func(b *testing.B) {
		client := &http.Client{Transport: tr}
		payload := []byte(`{"model":"m","messages":[{"role":"user","content":"hello"}],"stream":true}`)
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			resp, err := client.Post(srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(payload))
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.ReportMetric(float64(chunks*b.N)/b.Elapsed().Seconds(), "chunks/s")
	})
	b.Run("upstream", func(b *testing.B) {
		be := upstream.New(upstream.Options{Transport: tr})
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			u, err := be.ChatStream(b.Context(), target, req, func(*inference.ChatChunk) error { n++; return nil })
			if err != nil || n != chunks+1 || u.CompletionTokens != chunks {
				b.Fatalf("err %v, %d chunks, usage %+v", err, n, u)
			}
		}
		b.ReportMetric(float64(chunks*b.N)/b.Elapsed().Seconds(), "chunks/s")
	})
}

// BenchmarkChat measures a non-streamed chat request through the backend:
// encoding the request, building it, decoding the answer. The canned
// server does next to nothing, so allocs/op is mostly the backend's and
// net/http's.
func BenchmarkChat(b *testing.B) {
	answer := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m","system_fingerprint":"fp",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, how are you?"},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}` + "\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(answer)))
		w.Write(answer)
	}))
	defer srv.Close()
	tr := upstream.NewTransport(upstream.DefaultDialTimeout, upstream.DefaultResponseHeaderTimeout, 64)
	defer tr.CloseIdleConnections()
	be := upstream.New(upstream.Options{Transport: tr})
	target := newTarget(srv.URL+"/v1", "k")
	req := chatReq("Say hello in five words please")
	b.ReportAllocs()
	for b.Loop() {
		out, err := be.Chat(b.Context(), target, req)
		if err != nil || out.Usage == nil || out.Usage.CompletionTokens != 7 {
			b.Fatalf("err %v, %+v", err, out)
		}
	}
}
