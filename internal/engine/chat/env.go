package chat

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Bounds on values produced inside a render.
const (
	maxValueBytes = MaxOutputBytes
	maxWidth      = 1 << 16 // numeric width/count arguments of padding filters
	maxRange      = 1 << 15
	maxMacroDepth = 32
)

// newEnvironment builds a private gonja environment: the builtin filters,
// tests, methods and statements, with Hugging Face's globals added and the
// unbounded or Go-flavoured pieces replaced. Nothing global is modified.
func newEnvironment(order *keyOrder) *exec.Environment {
	filters := map[string]exec.FilterFunction{}
	exec.NewFilterSet(filters).Update(builtins.Filters)
	filters["tojson"] = tojsonFilter(order)
	filters["items"] = itemsFilter(order)
	for name, fn := range filters {
		filters[name] = guardFilter(name, fn)
	}

	statements := map[string]parser.ControlStructureParser{}
	exec.NewControlStructureSet(statements).Update(builtins.ControlStructures)
	for _, name := range []string{"for", "set", "macro"} {
		if p, ok := statements[name]; ok {
			statements[name] = guardStatement(name, p)
		}
	}

	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	ctx.Set("range", pyRange)
	ctx.Set("lipsum", func(*exec.VarArgs) string { return "" })
	ctx.Set("raise_exception", raiseException)
	ctx.Set("strftime_now", strftimeNow)

	return &exec.Environment{
		Filters:           exec.NewFilterSet(filters),
		ControlStructures: exec.NewControlStructureSet(statements),
		Tests:             builtins.Tests,
		Context:           ctx,
		Methods: exec.Methods{
			Bool:  builtins.Methods.Bool,
			Int:   builtins.Methods.Int,
			Float: builtins.Methods.Float,
			List:  builtins.Methods.List,
			Str:   strMethods(),
			Dict:  dictMethods(order),
		},
	}
}

func errValue(err error) *exec.Value { return exec.AsValue(err) }

// raiseException implements Hugging Face's raise_exception(msg) global.
func raiseException(e *exec.Evaluator, va *exec.VarArgs) (string, error) {
	msg := "raise_exception called"
	if len(va.Args) > 0 {
		msg = va.Args[0].String()
	}
	if st := stateOf(e.Environment.Context); st != nil && st.raised == "" {
		st.raised = msg
	}
	return "", fmt.Errorf("%w: %s", ErrRaised, msg)
}

// strftimeNow implements strftime_now(format) with the render's clock.
func strftimeNow(e *exec.Evaluator, va *exec.VarArgs) (string, error) {
	if len(va.Args) != 1 || !va.Args[0].IsString() {
		return "", fmt.Errorf("strftime_now expects one format string")
	}
	st := stateOf(e.Environment.Context)
	if st == nil {
		return "", fmt.Errorf("strftime_now: no render state")
	}
	return strftime(va.Args[0].String(), st.now), nil
}

// pyRange is Python's range(stop) / range(start, stop[, step]) as a list,
// limited to maxRange items.
func pyRange(va *exec.VarArgs) ([]int, error) {
	var start, stop, step = 0, 0, 1
	for _, a := range va.Args {
		if !a.IsInteger() {
			return nil, fmt.Errorf("range: %q is not an integer", a.String())
		}
	}
	switch len(va.Args) {
	case 1:
		stop = va.Args[0].Integer()
	case 2, 3:
		start, stop = va.Args[0].Integer(), va.Args[1].Integer()
		if len(va.Args) == 3 {
			step = va.Args[2].Integer()
		}
	default:
		return nil, fmt.Errorf("range expects 1 to 3 arguments, got %d", len(va.Args))
	}
	if step == 0 {
		return nil, fmt.Errorf("range: step must not be zero")
	}
	var n int
	switch {
	case step > 0 && stop > start:
		n = (stop-start-1)/step + 1
	case step < 0 && stop < start:
		n = (start-stop-1)/(-step) + 1
	}
	if n > maxRange || n < 0 {
		return nil, fmt.Errorf("%w: range of more than %d items", ErrLimit, maxRange)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = start + i*step
	}
	return out, nil
}

// widthFilters and widthMethods take numeric arguments that size their output.
var (
	widthFilters = map[string]bool{"center": true, "indent": true, "truncate": true, "wordwrap": true,
		"batch": true, "slice": true, "format": true, "filesizeformat": true, "round": true}
	widthMethods = map[string]bool{"center": true, "ljust": true, "rjust": true, "zfill": true,
		"expandtabs": true, "format": true, "format_map": true}
	bigFormatWidth = regexp.MustCompile(`[0-9]{6,}`)
)

// checkArgs rejects numeric arguments that would size an output beyond the
// bounds, and format strings with huge widths.
func checkArgs(name string, in *exec.Value, va *exec.VarArgs) error {
	tooBig := func(v *exec.Value) bool {
		return (v.IsInteger() && (v.Integer() > maxWidth || v.Integer() < -maxWidth)) ||
			(v.IsFloat() && (v.Float() > maxWidth || v.Float() < -maxWidth))
	}
	for _, a := range va.Args {
		if tooBig(a) {
			return fmt.Errorf("%w: %s argument %s too large", ErrLimit, name, a.String())
		}
	}
	for k, a := range va.KwArgs {
		if tooBig(a) {
			return fmt.Errorf("%w: %s argument %s=%s too large", ErrLimit, name, k, a.String())
		}
	}
	if name == "format" && in != nil && in.IsString() && bigFormatWidth.MatchString(in.String()) {
		return fmt.Errorf("%w: format width too large", ErrLimit)
	}
	return nil
}

// estimateJoin bounds the length of joining list with sep.
func estimateJoin(list *exec.Value, sep string) int {
	if list == nil || !(list.IsList() || list.IsDict()) {
		return 0
	}
	total := 0
	// gonja passes list items (and dict keys) as the key argument.
	list.Iterate(func(_, _ int, item, _ *exec.Value) bool {
		if item != nil && item.IsString() {
			total += len(item.String())
		} else {
			total += 32
		}
		total += len(sep)
		return total <= maxValueBytes
	}, func() {})
	return total
}

// estimateReplace bounds the length of s.replace(old, new).
func estimateReplace(s, old, repl string) int {
	n := len(s) + 1
	if old != "" {
		n = strings.Count(s, old)
	}
	if len(repl) <= len(old) {
		return len(s)
	}
	return len(s) + n*(len(repl)-len(old))
}

func checkResult(name string, v *exec.Value) *exec.Value {
	if v != nil && v.IsString() && len(v.String()) > maxValueBytes {
		return errValue(fmt.Errorf("%w: %s produced more than %d bytes", ErrLimit, name, maxValueBytes))
	}
	return v
}

// guardFilter adds the time/step check and the size bounds to a filter.
func guardFilter(name string, fn exec.FilterFunction) exec.FilterFunction {
	return func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
		if st := stateOf(e.Environment.Context); st != nil {
			if err := st.check(); err != nil {
				return errValue(err)
			}
		}
		if widthFilters[name] {
			if err := checkArgs(name, in, va); err != nil {
				return errValue(err)
			}
		}
		switch name {
		case "join":
			sep := ""
			if len(va.Args) > 0 {
				sep = va.Args[0].String()
			}
			if estimateJoin(in, sep) > maxValueBytes {
				return errValue(fmt.Errorf("%w: join result too large", ErrLimit))
			}
		case "replace":
			if len(va.Args) >= 2 && in.IsString() &&
				estimateReplace(in.String(), va.Args[0].String(), va.Args[1].String()) > maxValueBytes {
				return errValue(fmt.Errorf("%w: replace result too large", ErrLimit))
			}
		}
		return checkResult(name, fn(e, in, va))
	}
}

// guardStatement wraps a statement parser so that every execution of the
// statement polls the render guard; macros also get a recursion bound and
// set checks the size of what it stored.
func guardStatement(kind string, p parser.ControlStructureParser) parser.ControlStructureParser {
	return func(doc *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		target := ""
		if tok := args.Current(tokens.Name); tok != nil {
			target = tok.Val
		}
		cs, err := p(doc, args)
		if err != nil {
			return nil, err
		}
		inner, ok := cs.(exec.ControlStructure)
		if !ok {
			return cs, nil
		}
		return &guardedStatement{ControlStructure: inner, kind: kind, target: target}, nil
	}
}

type guardedStatement struct {
	exec.ControlStructure
	kind   string
	target string
}

// Execute runs the statement between guard checks.
func (g *guardedStatement) Execute(r *exec.Renderer, tag *nodes.ControlStructureBlock) error {
	st := stateOf(r.Environment.Context)
	if st == nil {
		return fmt.Errorf("%w: no render state", ErrTemplate)
	}
	if err := st.check(); err != nil {
		return err
	}
	if err := g.ControlStructure.Execute(r, tag); err != nil {
		return err
	}
	switch g.kind {
	case "macro":
		mcs, ok := g.ControlStructure.(*controlStructures.MacroControlStructure)
		if !ok {
			return nil
		}
		v, _ := r.Environment.Context.Get(mcs.Name)
		if m, ok := v.(exec.Macro); ok {
			r.Environment.Context.Set(mcs.Name, guardMacro(st, mcs.Name, m))
		}
	case "set":
		if v, ok := r.Environment.Context.Get(g.target); ok && oversized(v, 0) {
			return st.fail(fmt.Errorf("%w: value of %q larger than %d bytes", ErrLimit, g.target, maxValueBytes))
		}
	}
	return nil
}

func guardMacro(st *renderState, name string, m exec.Macro) exec.Macro {
	return func(va *exec.VarArgs) *exec.Value {
		if err := st.check(); err != nil {
			return errValue(err)
		}
		if st.macroDepth >= maxMacroDepth {
			return errValue(st.fail(fmt.Errorf("%w: macro %q nested deeper than %d", ErrLimit, name, maxMacroDepth)))
		}
		st.macroDepth++
		defer func() { st.macroDepth-- }()
		return checkResult("macro "+name, m(va))
	}
}

// oversized reports strings or lists beyond maxValueBytes, looking one level
// into containers (namespaces are maps).
func oversized(v any, depth int) bool {
	switch x := v.(type) {
	case string:
		return len(x) > maxValueBytes
	case *exec.Value:
		return x != nil && oversized(x.Interface(), depth)
	case []any:
		if len(x) > maxValueBytes/8 {
			return true
		}
		if depth == 0 {
			for _, e := range x {
				if oversized(e, 1) {
					return true
				}
			}
		}
	case map[string]any:
		if depth == 0 {
			for _, e := range x {
				if oversized(e, 1) {
					return true
				}
			}
		}
	}
	return false
}
