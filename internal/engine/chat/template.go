package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Bounds applied to untrusted templates.
const (
	// MaxTemplateBytes is the largest template source Parse accepts.
	MaxTemplateBytes = 256 << 10
	// MaxOutputBytes is the largest prompt Render produces.
	MaxOutputBytes = 16 << 20
	// DefaultTimeout bounds one Render call when the context has no deadline.
	DefaultTimeout = 2 * time.Second
)

// Template is a parsed Hugging Face chat template. It is safe for concurrent
// use.
type Template struct {
	src    string
	tpl    *exec.Template
	order  *keyOrder
	family Family
}

// Parse compiles a Jinja chat template. The template is untrusted: it cannot
// include other files, and Render bounds its output, time and recursion.
// Besides Jinja2 syntax errors, Parse rejects templates that use '**' as an
// operator or '*' with a right operand other than a small integer literal
// (string repetition is the cheapest way to exhaust memory).
func Parse(src string) (t *Template, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("%w: parser panic: %v", ErrTemplate, p)
		}
	}()
	if len(src) > MaxTemplateBytes {
		return nil, fmt.Errorf("%w: template is %d bytes, limit %d", ErrLimit, len(src), MaxTemplateBytes)
	}
	cfg := newConfig()
	if err := screenTokens(src, cfg); err != nil {
		return nil, err
	}
	order := newKeyOrder()
	tpl, err := exec.NewTemplate(rootName, cfg, rootLoader{src: src}, newEnvironment(order))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTemplate, err)
	}
	return &Template{src: src, tpl: tpl, order: order, family: Detect(src)}, nil
}

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Family returns the family Detect assigns to the template text.
func (t *Template) Family() Family { return t.family }

// StopSequences returns the stop markers of the template's family.
func (t *Template) StopSequences() []string { return Builtin(t.family).StopSequences() }

// Render renders the conversation with DefaultTimeout.
func (t *Template) Render(msgs []Message, tools []Tool, opts Options) (string, error) {
	return t.RenderContext(context.Background(), msgs, tools, opts)
}

// RenderContext renders the conversation. It stops with an error wrapping
// ErrLimit when ctx is done, when DefaultTimeout passes (if ctx has no
// deadline) or when a bound is exceeded; a raise_exception call yields an
// error wrapping ErrRaised. Panics inside the template engine become errors.
func (t *Template) RenderContext(ctx context.Context, msgs []Message, tools []Tool, opts Options) (out string, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	st := &renderState{ctx: ctx, order: t.order, now: opts.Now}
	if st.now.IsZero() {
		st.now = time.Now()
	}
	b := &orderedBuilder{table: t.order}
	defer func() { t.order.forget(b.ids) }()
	data, err := templateData(b, msgs, tools, opts)
	if err != nil {
		return "", err
	}
	data[stateKey] = st

	defer func() {
		if p := recover(); p != nil {
			out, err = "", fmt.Errorf("%w: engine panic: %v\n%s", ErrTemplate, p, firstLines(debug.Stack(), 12))
		}
	}()
	w := &limitWriter{st: st, max: MaxOutputBytes}
	execErr := t.tpl.Execute(w, exec.NewContext(data))
	switch {
	case st.raised != "":
		return "", fmt.Errorf("%w: %s", ErrRaised, st.raised)
	case st.limitErr != nil:
		return "", st.limitErr
	case execErr != nil && strings.Contains(execErr.Error(), ErrLimit.Error()):
		// gonja flattens some errors to text; keep the limit recognisable.
		return "", fmt.Errorf("%w: %v", ErrLimit, execErr)
	case execErr != nil:
		return "", fmt.Errorf("%w: %w", ErrTemplate, execErr)
	}
	return w.sb.String(), nil
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// templateData builds the variables Hugging Face passes to a chat template.
func templateData(b *orderedBuilder, msgs []Message, tools []Tool, opts Options) (map[string]any, error) {
	data := make(map[string]any, len(opts.Extra)+8)
	for k, v := range opts.Extra {
		data[k] = v
	}
	list := make([]any, 0, len(msgs))
	for i, m := range msgs {
		keys := []string{"role", "content"}
		vals := []any{m.Role, m.Content}
		if m.Name != "" {
			keys, vals = append(keys, "name"), append(vals, m.Name)
		}
		if len(m.ToolCalls) > 0 {
			calls := make([]any, 0, len(m.ToolCalls))
			for _, c := range m.ToolCalls {
				var args any = c.Arguments
				if parsed, err := b.decodeJSON([]byte(c.Arguments)); err == nil {
					if _, isMap := parsed.(map[string]any); isMap {
						args = parsed
					}
				}
				fn := b.newMap([]string{"name", "arguments"}, []any{c.Name, args})
				calls = append(calls, b.newMap([]string{"id", "type", "function"}, []any{c.ID, "function", fn}))
			}
			keys, vals = append(keys, "tool_calls"), append(vals, calls)
		}
		if m.ToolCallID != "" {
			keys, vals = append(keys, "tool_call_id"), append(vals, m.ToolCallID)
		}
		if m.Role == "" {
			return nil, fmt.Errorf("chat: message %d has no role", i)
		}
		list = append(list, b.newMap(keys, vals))
	}
	data["messages"] = list
	if len(tools) > 0 {
		tl := make([]any, 0, len(tools))
		for _, tool := range tools {
			keys := []string{"name", "description"}
			vals := []any{tool.Name, tool.Description}
			if len(tool.Parameters) > 0 {
				params, err := b.decodeJSON(tool.Parameters)
				if err != nil {
					return nil, fmt.Errorf("chat: tool %q parameters: %w", tool.Name, err)
				}
				keys, vals = append(keys, "parameters"), append(vals, params)
			}
			fn := b.newMap(keys, vals)
			tl = append(tl, b.newMap([]string{"type", "function"}, []any{"function", fn}))
		}
		data["tools"] = tl
	} else {
		data["tools"] = nil
	}
	data["add_generation_prompt"] = opts.AddGenerationPrompt
	data["bos_token"] = opts.BOSToken
	data["eos_token"] = opts.EOSToken
	return data, nil
}

// renderState is the per-render guard and scratch space, reachable from
// filters, globals and control structures through the template context.
type renderState struct {
	ctx        context.Context
	order      *keyOrder
	now        time.Time
	raised     string
	limitErr   error
	macroDepth int
	steps      int
}

// String keeps the state opaque if a template prints it.
func (s *renderState) String() string { return "" }

// maxSteps bounds the guarded operations (loop and set statements, macro and
// filter calls) of one render.
const maxSteps = 4 << 20

// check reports whether rendering must stop; it records the first limit hit.
func (s *renderState) check() error {
	if s.limitErr != nil {
		return s.limitErr
	}
	s.steps++
	if s.steps > maxSteps {
		return s.fail(fmt.Errorf("%w: more than %d template steps", ErrLimit, maxSteps))
	}
	if err := s.ctx.Err(); err != nil {
		return s.fail(fmt.Errorf("%w: %w", ErrLimit, err))
	}
	return nil
}

func (s *renderState) fail(err error) error {
	if s.limitErr == nil {
		s.limitErr = err
	}
	return s.limitErr
}

const stateKey = "__cerulean_chat_state__"

func stateOf(ctx *exec.Context) *renderState {
	if ctx == nil {
		return nil
	}
	v, _ := ctx.Get(stateKey)
	st, _ := v.(*renderState)
	return st
}

// limitWriter collects output up to max bytes and polls the guard.
type limitWriter struct {
	st  *renderState
	sb  strings.Builder
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if err := w.st.check(); err != nil {
		return 0, err
	}
	if w.sb.Len()+len(p) > w.max {
		return 0, w.st.fail(fmt.Errorf("%w: output larger than %d bytes", ErrLimit, w.max))
	}
	return w.sb.Write(p)
}

const rootName = "chat_template"

// rootLoader serves the template itself and refuses every other name, so
// include, import and extends cannot reach the file system.
type rootLoader struct{ src string }

func (l rootLoader) Read(path string) (io.Reader, error) {
	if path != rootName {
		return nil, fmt.Errorf("loading %q: templates cannot load other templates", path)
	}
	return strings.NewReader(l.src), nil
}

func (l rootLoader) Resolve(path string) (string, error) {
	if path != rootName {
		return "", fmt.Errorf("resolving %q: templates cannot load other templates", path)
	}
	return path, nil
}

func (l rootLoader) Inherit(string) (loaders.Loader, error) {
	return nil, errors.New("templates cannot load other templates")
}

// newConfig returns the Jinja settings Hugging Face uses: trim_blocks and
// lstrip_blocks on, trailing newline dropped.
func newConfig() *config.Config {
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	return cfg
}

// Limits on the '*' operator; see Parse.
const (
	maxRepeatLiteral = 8
	maxRepeatOps     = 2
)

// screenTokens rejects operator uses that can allocate without bound.
func screenTokens(src string, cfg *config.Config) error {
	stream := tokens.LexAll(src, cfg)
	var prev *tokens.Token
	mults := 0
	for ; !stream.End(); stream.Next() {
		tok := stream.Current()
		star := prev == nil || prev.Type == tokens.LeftParenthesis || prev.Type == tokens.Comma
		switch tok.Type {
		case tokens.Power:
			if !star {
				return fmt.Errorf("%w: the '**' operator is not supported", ErrTemplate)
			}
		case tokens.Multiply:
			if star {
				break
			}
			mults++
			next := stream.Peek()
			if mults > maxRepeatOps || next == nil || next.Type != tokens.Integer || !smallInt(next.Val) {
				return fmt.Errorf("%w: '*' is limited to %d uses with a literal right operand of at most %d",
					ErrTemplate, maxRepeatOps, maxRepeatLiteral)
			}
		}
		prev = tok
	}
	return nil
}

func smallInt(s string) bool {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
		if n > maxRepeatLiteral {
			return false
		}
	}
	return true
}
