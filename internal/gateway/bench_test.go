package gateway

import "testing"

// benchChatBody is a typical chat request: a system prompt, a few turns,
// sampling options and one tool.
const benchChatBody = `{
  "model": "chat-dep",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant that answers briefly and precisely."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And what is its population, roughly? Answer in one sentence."}
  ],
  "temperature": 0.7,
  "top_p": 0.95,
  "max_tokens": 256,
  "stop": ["\n\n"],
  "presence_penalty": 0,
  "frequency_penalty": 0.2,
  "user": "user-1234",
  "tools": [{"type": "function", "function": {"name": "get_population", "description": "Population of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
  "tool_choice": "auto"
}`

func BenchmarkDecodeChat(b *testing.B) {
	data := []byte(benchChatBody)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeChat(data); err != nil {
			b.Fatal(err)
		}
	}
}
