package gateway

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// checkDecodeError asserts that a decode error is a 4xx fault with a
// message.
func checkDecodeError(t *testing.T, data []byte, err error) {
	if err == nil {
		return
	}
	f, ok := fault.As(err)
	if !ok {
		t.Fatalf("%q: error %v (%T) is not a fault", data, err, err)
	}
	if s := f.Kind.Status(); s < 400 || s > 499 {
		t.Fatalf("%q: status %d for %v", data, s, err)
	}
	if f.Message == "" {
		t.Fatalf("%q: fault without a message", data)
	}
	// Rendering must not fail either.
	for _, d := range []dialect{dialectAzure, dialectOpenAI} {
		if status, _ := renderError(&call{id: "fuzz", dialect: d}, err); status < 400 || status > 499 {
			t.Fatalf("%q: rendered status %d", data, status)
		}
	}
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func FuzzDecodeChat(f *testing.F) {
	addSeeds(f,
		chatBody(""),
		benchChatBody,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x","detail":"low"}}]}]}`,
		`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"x"}]}`,
		`{"messages":[{"role":"user","content":"x"}],"stop":["a"],"logit_bias":{"1":-100},"tool_choice":{"type":"function","function":{"name":"f"}},"tools":[{"type":"function","function":{"name":"f","parameters":{}}}]}`,
		`{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"}}}}`,
		`{"messages":[{"role":5}]}`, `[]`, `{"messages":`, `{"temperature":"hot"}`, `null`, ``,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := decodeChat(data)
		checkDecodeError(t, data, err)
	})
}

func FuzzDecodeCompletion(f *testing.F) {
	addSeeds(f,
		`{"prompt":"Once upon a time","max_tokens":16,"temperature":0.7,"stop":"\n"}`,
		`{"prompt":["a","b"],"n":2,"best_of":3,"logprobs":5,"echo":true}`,
		`{"prompt":[1,2,3]}`, `{"prompt":[[1],[2,3]]}`, `{"prompt":5}`, `{"prompt":null}`, `{"prompt":[1,"a"]}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := decodeCompletion(data)
		checkDecodeError(t, data, err)
	})
}

func FuzzDecodeEmbedding(f *testing.F) {
	addSeeds(f,
		`{"input":"hello","encoding_format":"base64","dimensions":256}`,
		`{"input":["a","b"],"encoding_format":"float"}`,
		`{"input":[[1,2],[3]]}`, `{"input":[]}`, `{"input":""}`, `{"input":{}}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := decodeEmbedding(data)
		checkDecodeError(t, data, err)
	})
}
