package chat

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func render(t *testing.T, src string, msgs []Message, tools []Tool, opts Options) (string, error) {
	t.Helper()
	tpl, err := Parse(src)
	if err != nil {
		return "", err
	}
	return tpl.Render(msgs, tools, opts)
}

func TestTemplateFeatures(t *testing.T) {
	now := time.Date(2024, 7, 26, 9, 5, 0, 0, time.UTC)
	params := []byte(`{"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer"}}}`)
	tools := []Tool{{Name: "f", Description: "d", Parameters: params}}
	user := []Message{{Role: "user", Content: "  Hi, <b>Zoë</b>\n"}}
	tests := []struct {
		name  string
		src   string
		msgs  []Message
		tools []Tool
		opts  Options
		want  string
	}{
		{"tojson python spacing and order", `{{ tools[0].function.parameters | tojson }}`, nil, tools, Options{},
			`{"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer"}}}`},
		{"tojson indent", `{{ {"k": [1, 2.5, true, none]} | tojson(indent=2) }}`, nil, nil, Options{},
			"{\n  \"k\": [\n    1,\n    2.5,\n    true,\n    null\n  ]\n}"},
		{"tojson unicode and html kept", `{{ messages[0].content | tojson }}`, user, nil, Options{},
			`"  Hi, <b>Zoë</b>\n"`},
		{"tojson ensure_ascii", `{{ messages[0].content | tojson(ensure_ascii=true) }}`, user, nil, Options{},
			`"  Hi, <b>Zo\u00eb</b>\n"`},
		{"tojson sort_keys", `{{ tools[0].function.parameters.properties | tojson(sort_keys=true) }}`, nil, tools, Options{},
			`{"a": {"type": "integer"}, "b": {"type": "string"}}`},
		{"items keeps order", `{% for k, v in tools[0].function.parameters.properties.items() %}{{ k }},{% endfor %}`, nil, tools, Options{},
			"b,a,"},
		{"items filter keeps order", `{% for k, v in tools[0].function.parameters.properties|items %}{{ k }}{% endfor %}`, nil, tools, Options{},
			"ba"},
		{"string methods", `{{ messages[0].content.strip().upper() }}|{{ 'a,b'.split(',')[1] }}|{{ 'x'.startswith('x') }}|{{ 'hello world'.title() }}|{{ 'ab'.replace('a', 'z') }}|{{ 'abc'.endswith('c') }}|{{ 'Q'.lower() }}`,
			user, nil, Options{}, "HI, <B>ZOË</B>|b|True|Hello World|zb|True|q"},
		{"strftime_now", `{{ strftime_now("%d %b %Y %H:%M") }}`, nil, nil, Options{Now: now}, "26 Jul 2024 09:05"},
		{"bos eos and generation prompt", `{{ bos_token }}{% if add_generation_prompt %}G{% endif %}{{ eos_token }}`, nil, nil,
			Options{BOSToken: "<s>", EOSToken: "</s>", AddGenerationPrompt: true}, "<s>G</s>"},
		{"extra variables", `{{ date_string }}`, nil, nil, Options{Extra: map[string]any{"date_string": "1 Jan 2025"}}, "1 Jan 2025"},
		{"tools none without tools", `{% if tools is none %}none{% endif %}`, nil, nil, Options{}, "none"},
		{"tool call arguments decoded", `{{ messages[0].tool_calls[0].function.arguments | tojson }}`,
			[]Message{{Role: "assistant", ToolCalls: []ToolCall{{ID: "1", Name: "f", Arguments: `{"z": 1, "a": "x"}`}}}}, nil, Options{},
			`{"z": 1, "a": "x"}`},
		{"tool call arguments not an object stay text", `{{ messages[0].tool_calls[0].function.arguments }}`,
			[]Message{{Role: "assistant", ToolCalls: []ToolCall{{ID: "1", Name: "f", Arguments: `not json`}}}}, nil, Options{},
			`not json`},
		{"optional keys absent", `{{ 'tool_calls' in messages[0] }}{{ messages[0].name is defined }}`, user, nil, Options{}, "FalseFalse"},
		{"range and loop controls", `{% for i in range(1, 10, 3) %}{% if i > 5 %}{% break %}{% endif %}{{ i }}{% endfor %}`, nil, nil, Options{}, "14"},
		{"trim_blocks and lstrip_blocks", "{% for m in messages %}\n    {% if true %}\n{{ m.role }}\n    {% endif %}\n{% endfor %}", user, nil, Options{}, "user\n"},
		{"python floats", `{{ [1.0, 0.0001, 0.00001, 1e16, 123456789.125] | tojson }}`, nil, nil, Options{},
			`[1.0, 0.0001, 1e-05, 1e+16, 123456789.125]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := render(t, tc.src, tc.msgs, tc.tools, tc.opts)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	many := []Message{{Role: "user", Content: strings.Repeat("x", 1<<20)}}
	tests := []struct {
		name     string
		src      string
		msgs     []Message
		parseErr bool
		want     error
		contains string
		// timeout is the render's deadline; 0 means 30 s, which the
		// bounds should hit long before, however loaded the machine:
		// a case that names its bound (contains) fails if the deadline
		// comes first.
		timeout time.Duration
	}{
		{"raise_exception", `a{{ raise_exception("roles must alternate") }}`, nil, false, ErrRaised, "roles must alternate", 0},
		{"syntax error", `{% for %}`, nil, true, ErrTemplate, "", 0},
		{"include refused", `{% include "/etc/passwd" %}`, nil, false, ErrTemplate, "", 0},
		{"output bound", `{% for i in range(100) %}{{ messages[0].content }}{% endfor %}`, many, false, ErrLimit, "output", 0},
		{"range bound", `{% for i in range(100000) %}{% endfor %}`, nil, false, ErrLimit, "range", 0},
		{"macro recursion", `{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}`, nil, false, ErrLimit, "macro", 0},
		{"set doubling", `{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}`, nil, false, ErrLimit, "", 0},
		{"nested loops time out", `{% for i in range(30000) %}{% for j in range(30000) %}{% endfor %}{% endfor %}`, nil, false, ErrLimit, "", 200 * time.Millisecond},
		{"string repeat refused", `{{ 'x' * n }}`, nil, true, ErrTemplate, "'*'", 0},
		{"power refused", `{{ 2 ** 1000 }}`, nil, true, ErrTemplate, "'**'", 0},
		{"width bound", `{{ 'x'.center(1000000000) }}`, nil, false, ErrLimit, "", 0},
		{"join bound", `{{ range(30000) | join(messages[0].content) }}`, many, false, ErrLimit, "", 0},
		{"too big", strings.Repeat("x", MaxTemplateBytes+1), nil, true, ErrLimit, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := Parse(tc.src)
			if tc.parseErr {
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.contains) {
					t.Fatalf("Parse error %v, want %v containing %q", err, tc.want, tc.contains)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			start := time.Now()
			_, err = tpl.RenderContext(ctx, tc.msgs, nil, Options{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("Render error %v, want %v containing %q", err, tc.want, tc.contains)
			}
			if d := time.Since(start); d > timeout+5*time.Second {
				t.Errorf("render took %v with a deadline of %v", d, timeout)
			}
		})
	}
}

func TestStarArgsStillParse(t *testing.T) {
	got, err := render(t, `{% macro f(a, *rest, **kw) %}{{ a }}{{ rest|length }}{% endmacro %}{{ f(1, 2, 3) }}{{ 'ab' * 2 }}`, nil, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("12abab", got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		src  string
		want Family
	}{
		{"", FamilyPlain},
		{"{{ '<|im_start|>' }}", FamilyChatML},
		{"<|start_header_id|>", FamilyLlama3},
		{"[INST] x [/INST]", FamilyMistral},
		{"<|user|>", FamilyZephyr},
		{"{{ messages }}", FamilyPlain},
	}
	for _, tc := range tests {
		if got := Detect(tc.src); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func TestStopSequences(t *testing.T) {
	tests := []struct {
		f    Family
		want []string
	}{
		{FamilyChatML, []string{"<|im_end|>", "<|endoftext|>"}},
		{FamilyLlama3, []string{"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"}},
		{FamilyMistral, []string{"</s>"}},
		{FamilyZephyr, []string{"</s>", "<|user|>"}},
		{FamilyPlain, []string{"\nUser:"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, Builtin(tc.f).StopSequences()); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tc.f, diff)
		}
	}
}

func TestForModelFallback(t *testing.T) {
	msgs := []Message{{Role: "user", Content: "hi"}}
	opts := Options{AddGenerationPrompt: true}
	tests := []struct {
		name      string
		src       string
		want      string
		fellBack  bool
		causeIs   error
		hasCause  bool
		wantStops []string
	}{
		{"no template", "", "User: hi\nAssistant:", true, nil, false, []string{"\nUser:"}},
		{"template works", "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
			"<|im_start|>user\nhi<|im_end|>\n", false, nil, false, []string{"<|im_end|>", "<|endoftext|>"}},
		{"template does not parse", "<|im_start|>{% if %}", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", true, ErrTemplate, true, nil},
		{"template raises", "<|start_header_id|>{{ raise_exception('no') }}",
			"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", true, ErrRaised, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ForModel(tc.src)
			res, err := m.RenderResult(context.Background(), msgs, nil, opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, res.Prompt); diff != "" {
				t.Errorf("prompt (-want +got):\n%s", diff)
			}
			if res.FellBack != tc.fellBack || (res.Cause != nil) != tc.hasCause {
				t.Errorf("FellBack=%v Cause=%v, want %v / cause %v", res.FellBack, res.Cause, tc.fellBack, tc.hasCause)
			}
			if tc.causeIs != nil && !errors.Is(res.Cause, tc.causeIs) {
				t.Errorf("Cause %v is not %v", res.Cause, tc.causeIs)
			}
			if tc.wantStops != nil {
				if diff := cmp.Diff(tc.wantStops, m.StopSequences()); diff != "" {
					t.Errorf("stops (-want +got):\n%s", diff)
				}
			}
			plain, err := m.Render(msgs, nil, opts)
			if err != nil || plain != res.Prompt {
				t.Errorf("Render = %q, %v; want %q", plain, err, res.Prompt)
			}
		})
	}
}

func TestConcurrentRenders(t *testing.T) {
	tpl, err := Parse(`{% for k, v in tools[0].function.parameters.properties.items() %}{{ k }}{% endfor %}`)
	if err != nil {
		t.Fatal(err)
	}
	tools := []Tool{{Name: "f", Parameters: []byte(`{"properties": {"z": 1, "y": 2, "x": 3}}`)}}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				got, err := tpl.Render(nil, tools, Options{})
				if err == nil && got != "zyx" {
					err = errors.New("got " + got)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tpl.order.order); n != 0 {
		t.Errorf("key order table keeps %d entries after renders", n)
	}
}
