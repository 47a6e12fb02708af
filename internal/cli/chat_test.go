package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

func ptr[T any](v T) *T { return &v }

func TestChatOneShot(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantWrites []string // to stdout, one per Write
		wantStderr string
		wantCall   *chatCall // what the chat endpoint got
	}{
		{
			name:       "streams deltas in order",
			args:       []string{"Why", "is the sky blue?"},
			wantWrites: []string{"echo:", " Why", " is", " the", " sky", " blue?", " (turn", " 1)", "\n"},
			wantCall: &chatCall{Model: "chat", Stream: true,
				Messages: []api.ChatMessage{{Role: "user", Content: "Why is the sky blue?"}}},
		},
		{
			name:       "system, temperature, max tokens, verbose",
			args:       []string{"--system", "Be brief.", "--temperature", "0.2", "--max-tokens", "50", "-v", "hi"},
			wantWrites: []string{"echo:", " hi", " (turn", " 1)", "\n"},
			wantStderr: "prompt tokens: 7, completion tokens: 4, total tokens: 11, finish reason: stop\n",
			wantCall: &chatCall{Model: "chat", Stream: true, Temperature: ptr(0.2), MaxTokens: ptr(50),
				Messages: []api.ChatMessage{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hi"}}},
		},
		{
			name:       "json",
			args:       []string{"-o", "json", "hi"},
			wantWrites: []string{"{\n  \"content\": \"echo: hi (turn 1)\",\n  \"finishReason\": \"stop\",\n  \"usage\": {\n    \"promptTokens\": 7,\n    \"completionTokens\": 4,\n    \"totalTokens\": 11\n  }\n}\n"},
			wantCall: &chatCall{Model: "chat", Stream: true,
				Messages: []api.ChatMessage{{Role: "user", Content: "hi"}}},
		},
		{
			name:       "no such deployment",
			args:       []string{"-d", "nope", "hi"},
			wantCode:   1,
			wantStderr: "Error: The API deployment for this resource does not exist. (DeploymentNotFound)\n",
			wantCall: &chatCall{Model: "nope", Stream: true,
				Messages: []api.ChatMessage{{Role: "user", Content: "hi"}}},
		},
		{
			name:       "no such project",
			args:       []string{"-p", "nope", "hi"},
			wantCode:   1,
			wantStderr: "Error: The project 'nope' does not exist. (ProjectNotFound)\n",
		},
		{
			name:       "bad temperature",
			args:       []string{"--temperature", "3", "hi"},
			wantCode:   2,
			wantStderr: "Error: --temperature 3: want 0 to 2\nRun 'cerulean chat --help' for usage.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			args := append([]string{"chat", "-p", "demo", "-d", "chat"}, tt.args...)
			got, stdout := runRecorded(t, hostEnv(f.URL), "", args...)
			check(t, got, tt.wantCode, tt.wantStderr, "")
			if diff := cmp.Diff(tt.wantWrites, stdout.writes); diff != "" {
				t.Errorf("writes to stdout (-want +got):\n%s", diff)
			}
			var wantCalls []chatCall
			if tt.wantCall != nil {
				wantCalls = []chatCall{*tt.wantCall}
			}
			if diff := cmp.Diff(wantCalls, f.state().chats); diff != "" {
				t.Errorf("chat requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatInteractive(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantStdout string
		wantStderr string
		wantCalls  [][]api.ChatMessage // the messages of each request
	}{
		{
			name:  "keeps history until /bye",
			args:  []string{"--system", "Be brief."},
			stdin: "hello\n\n  second one  \n/bye\nnot sent\n",
			wantStdout: "echo: hello (turn 1)\n" +
				"echo: second one (turn 2)\n",
			wantStderr: ">>> >>> >>> >>> ",
			wantCalls: [][]api.ChatMessage{
				{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hello"}},
				{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hello"},
					{Role: "assistant", Content: "echo: hello (turn 1)"}, {Role: "user", Content: "second one"}},
			},
		},
		{
			name:       "end of input without a newline",
			stdin:      "one\ntwo",
			wantStdout: "echo: one (turn 1)\necho: two (turn 2)\n",
			wantStderr: ">>> >>> \n",
			wantCalls: [][]api.ChatMessage{
				{{Role: "user", Content: "one"}},
				{{Role: "user", Content: "one"}, {Role: "assistant", Content: "echo: one (turn 1)"}, {Role: "user", Content: "two"}},
			},
		},
		{
			name:       "/clear forgets",
			args:       []string{"--system", "S"},
			stdin:      "one\n/clear\ntwo\n",
			wantStdout: "echo: one (turn 1)\necho: two (turn 1)\n",
			wantStderr: ">>> >>> Cleared the conversation.\n>>> >>> \n",
			wantCalls: [][]api.ChatMessage{
				{{Role: "system", Content: "S"}, {Role: "user", Content: "one"}},
				{{Role: "system", Content: "S"}, {Role: "user", Content: "two"}},
			},
		},
		{
			name:       "a refused prompt is reported and left out",
			stdin:      "forbidden\nok\n/bye\n",
			wantStdout: "echo: ok (turn 1)\n",
			wantStderr: ">>> Error: The prompt was filtered by the content policy. (content_filter)\n>>> >>> ",
			wantCalls: [][]api.ChatMessage{
				{{Role: "user", Content: "forbidden"}},
				{{Role: "user", Content: "ok"}},
			},
		},
		{
			name:       "empty input",
			wantStderr: ">>> \n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			got := run(t, f.URL, tt.stdin, append([]string{"chat", "-p", "demo", "-d", "chat"}, tt.args...)...)
			check(t, got, 0, tt.wantStderr, "")
			if got.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got.stdout, tt.wantStdout)
			}
			var calls [][]api.ChatMessage
			for _, c := range f.state().chats {
				calls = append(calls, c.Messages)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}
