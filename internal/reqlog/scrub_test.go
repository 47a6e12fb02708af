package reqlog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"api_key", true}, {"api-key", true}, {"apiKey", true}, {"APIKey", true}, {"x-api-key", true}, {"key", true},
		{"Authorization", true}, {"access_token", true}, {"sessionToken", true}, {"token", true}, {"password", true},
		{"db_password_hint", true}, {"client_secret", true}, {"secretValue", true}, {"credentials", true}, {"apikey", true},
		{"max_tokens", false}, {"max_completion_tokens", false}, {"prompt_tokens", false}, {"key_id", false},
		{"keys", false}, {"token_count", false}, {"tokenizer", false}, {"model", false}, {"messages", false},
		{"monkey", false}, {"", false}, {"_", false},
	}
	for _, tt := range tests {
		if got := secretName(tt.name); got != tt.want {
			t.Errorf("secretName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestScrubJSON(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  string
	}{
		{"empty", ``, 100, ``},
		{"plain", `{"model": "gpt", "n": 2, "x": 1.50, "t": true, "f": false, "z": null}`, 100,
			`{"model":"gpt","n":2,"x":1.50,"t":true,"f":false,"z":null}`},
		{"secrets", `{"api_key":"sk-123","max_tokens":5,"nested":{"Authorization":"Bearer x","password":{"a":[1,{"b":2}]}},"after":1}`, 1000,
			`{"api_key":"[REDACTED]","max_tokens":5,"nested":{"Authorization":"[REDACTED]","password":"[REDACTED]"},"after":1}`},
		{"in arrays", `[{"token":"t1"},{"token":["t2","t3"],"ok":[1,2]},3]`, 100,
			`[{"token":"[REDACTED]"},{"token":"[REDACTED]","ok":[1,2]},3]`},
		{"escapes and unicode", `{"s":"a\"b\\c\n<&> ☃ \u00e9"}`, 100, `{"s":"a\"b\\c\n<&> ☃ é"}`},
		{"not JSON", `{"api_key": "sk-1" ,,}`, 100, `[a body of 22 bytes that is not valid JSON was not stored]`},
		{"truncated", `{"content":"` + strings.Repeat("x", 100) + `","api_key":"sk-late"}`, 20,
			`{"content":"xxxxxxxx…[truncated: the body had 134 bytes]`},
		{"cut on a rune", `{"c":"☃☃☃☃"}`, 9, `{"c":"☃…[truncated: the body had 20 bytes]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scrubJSON([]byte(tt.in), tt.limit)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("scrubJSON(%s) (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

// TestScrubStopsEarly checks that scrubbing a huge body reads only what it
// keeps: a body with a syntax error far past the limit is still stored.
func TestScrubStopsEarly(t *testing.T) {
	body := `{"content":"` + strings.Repeat("y", 1<<20) + `"}, broken`
	got := scrubJSON([]byte(body), 1000)
	if !strings.HasSuffix(got, truncated(len(body))) || len(got) > 1000+len(truncated(len(body))) {
		t.Errorf("got %d bytes ending %q", len(got), got[max(0, len(got)-60):])
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"hello", 5, "hello"},
		{"hello!", 5, "hello…[truncated: the body had 6 bytes]"},
		{"héllo", 2, "h…[truncated: the body had 6 bytes]"},
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.limit, len(tt.in)); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

// FuzzScrubJSON checks that scrubbing never panics, that a valid document
// kept whole stays valid JSON with the same shape, and that no value of a
// secret-named field survives.
func FuzzScrubJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"api_key":"sk-SECRET"}`, `{"a":[{"token":{"x":"sk-SECRET"}}],"b":"c"}`,
		`"str"`, `12`, `{"messages":[{"role":"user","content":"hi"}],"max_tokens":3}`, `{"a":`, `[1,2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := scrubJSON(body, 1<<20)
		var v any
		if !json.Valid(body) || json.Unmarshal(body, &v) != nil {
			return
		}
		var out any
		if err := json.Unmarshal([]byte(got), &out); err != nil {
			t.Fatalf("scrubJSON(%q) = %q: not JSON: %v", body, got, err)
		}
		checkScrubbed(t, out)
	})
}

// checkScrubbed fails when a secret-named field holds anything but
// Redacted.
func checkScrubbed(t *testing.T, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if secretName(k) && e != Redacted {
				t.Fatalf("field %q kept its value %v", k, e)
			}
			checkScrubbed(t, e)
		}
	case []any:
		for _, e := range x {
			checkScrubbed(t, e)
		}
	}
}
