package chat

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// strMethodNames are the Python str methods gonja implements; strMethods
// copies them (gonja's method sets cannot be enumerated) and bounds the ones
// whose output size depends on an argument.
var strMethodNames = []string{"capitalize", "capwords", "casefold", "center", "count", "encode",
	"endswith", "expandtabs", "find", "format", "format_map", "isalnum", "isalpha", "isascii",
	"isdecimal", "isdigit", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper",
	"join", "ljust", "lower", "lstrip", "partition", "removeprefix", "removesuffix", "replace",
	"rfind", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith",
	"strip", "swapcase", "title", "upper", "zfill"}

func strMethods() *exec.MethodSet[string] {
	set := map[string]exec.Method[string]{}
	for _, name := range strMethodNames {
		m, ok := builtins.Methods.Str.Get(name)
		if !ok {
			continue
		}
		set[name] = func(self string, sv *exec.Value, va *exec.VarArgs) (any, error) {
			if widthMethods[name] {
				if err := checkArgs(name, sv, va); err != nil {
					return nil, err
				}
			}
			switch name {
			case "join":
				if len(va.Args) == 1 && estimateJoin(va.Args[0], self) > maxValueBytes {
					return nil, fmt.Errorf("%w: join result too large", ErrLimit)
				}
			case "replace":
				if len(va.Args) >= 2 && estimateReplace(self, va.Args[0].String(), va.Args[1].String()) > maxValueBytes {
					return nil, fmt.Errorf("%w: replace result too large", ErrLimit)
				}
				if len(va.Args) == 2 {
					// Python's count defaults to -1 (all); gonja requires it.
					args := *va
					args.Args = append(append([]*exec.Value(nil), va.Args...), exec.AsValue(-1))
					va = &args
				}
			}
			out, err := m(self, sv, va)
			if s, ok := out.(string); ok && len(s) > maxValueBytes {
				return nil, fmt.Errorf("%w: %s produced more than %d bytes", ErrLimit, name, maxValueBytes)
			}
			return out, err
		}
	}
	return exec.NewMethodSet(set)
}

// dictMethods copies gonja's dict methods and makes keys(), values() and
// items() follow insertion order like Python dicts.
func dictMethods(order *keyOrder) *exec.MethodSet[map[string]any] {
	set := map[string]exec.Method[map[string]any]{}
	for _, name := range []string{"get", "pop", "setdefault", "update", "copy", "clear"} {
		if m, ok := builtins.Methods.Dict.Get(name); ok {
			set[name] = m
		}
	}
	ordered := func(kind string) exec.Method[map[string]any] {
		return func(self map[string]any, sv *exec.Value, va *exec.VarArgs) (any, error) {
			if len(va.Args) > 0 || len(va.KwArgs) > 0 {
				return nil, fmt.Errorf("%s() takes no arguments", kind)
			}
			m := self
			if orig, ok := sv.Interface().(map[string]any); ok {
				m = orig // self is a converted copy; the original carries the order
			}
			keys := order.keys(m)
			out := make([]any, 0, len(keys))
			for _, k := range keys {
				switch kind {
				case "keys":
					out = append(out, k)
				case "values":
					out = append(out, m[k])
				default:
					out = append(out, []any{k, m[k]})
				}
			}
			return out, nil
		}
	}
	for _, kind := range []string{"keys", "values", "items"} {
		set[kind] = ordered(kind)
	}
	return exec.NewMethodSet(set)
}

// itemsFilter is Jinja's |items in insertion order.
func itemsFilter(order *keyOrder) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		m, ok := in.Interface().(map[string]any)
		if !ok {
			if in.IsNil() {
				return exec.AsValue([]any{})
			}
			return errValue(fmt.Errorf("items: %s is not a mapping", in.String()))
		}
		keys := order.keys(m)
		out := make([]any, 0, len(keys))
		for _, k := range keys {
			out = append(out, []any{k, m[k]})
		}
		return exec.AsValue(out)
	}
}

// tojsonFilter is Hugging Face's tojson: json.dumps with ensure_ascii=False,
// Python separators, no key sorting, and the indent, ensure_ascii,
// separators and sort_keys keyword arguments.
func tojsonFilter(order *keyOrder) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		o := dumpOptions{itemSep: ", ", keySep: ": ", keyOrderedBy: order, maxBytes: maxValueBytes}
		get := func(name string, pos int) *exec.Value {
			if v, ok := va.KwArgs[name]; ok {
				return v
			}
			if pos < len(va.Args) {
				return va.Args[pos]
			}
			return nil
		}
		// Positional order follows Hugging Face's signature:
		// tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
		if v := get("ensure_ascii", 0); v != nil {
			o.ensureASCII = v.IsTrue()
		}
		if v := get("indent", 1); v != nil && !v.IsNil() {
			switch {
			case v.IsInteger():
				n := v.Integer()
				if n > 64 {
					return errValue(fmt.Errorf("%w: tojson indent %d", ErrLimit, n))
				}
				o.indent, o.hasIndent = strings.Repeat(" ", max(n, 0)), true
			case v.IsString():
				if len(v.String()) > 64 {
					return errValue(fmt.Errorf("%w: tojson indent too long", ErrLimit))
				}
				o.indent, o.hasIndent = v.String(), true
			default:
				return errValue(fmt.Errorf("tojson: indent must be an integer or a string"))
			}
			o.itemSep = ","
		}
		if v := get("separators", 2); v != nil && !v.IsNil() {
			if !v.IsList() || v.Len() != 2 {
				return errValue(fmt.Errorf("tojson: separators must be a pair of strings"))
			}
			a, _ := v.GetItem(0)
			b, _ := v.GetItem(1)
			o.itemSep, o.keySep = a.String(), b.String()
		}
		if v := get("sort_keys", 3); v != nil {
			o.sortKeys = v.IsTrue()
		}
		s, err := pyDumps(in.Interface(), o)
		if err != nil {
			return errValue(err)
		}
		return exec.AsSafeValue(s)
	}
}

// strftime formats t with the C/Python strftime directives chat templates
// use; unknown directives are copied through.
func strftime(format string, t time.Time) string {
	var sb strings.Builder
	pad := func(n, w int) { s := strconv.Itoa(n); sb.WriteString(strings.Repeat("0", max(w-len(s), 0)) + s) }
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch format[i] {
		case 'd':
			pad(t.Day(), 2)
		case 'e':
			sb.WriteString(fmt.Sprintf("%2d", t.Day()))
		case 'm':
			pad(int(t.Month()), 2)
		case 'Y':
			pad(t.Year(), 4)
		case 'y':
			pad(t.Year()%100, 2)
		case 'b', 'h':
			sb.WriteString(t.Month().String()[:3])
		case 'B':
			sb.WriteString(t.Month().String())
		case 'a':
			sb.WriteString(t.Weekday().String()[:3])
		case 'A':
			sb.WriteString(t.Weekday().String())
		case 'H':
			pad(t.Hour(), 2)
		case 'I':
			pad((t.Hour()+11)%12+1, 2)
		case 'M':
			pad(t.Minute(), 2)
		case 'S':
			pad(t.Second(), 2)
		case 'p':
			if t.Hour() < 12 {
				sb.WriteString("AM")
			} else {
				sb.WriteString("PM")
			}
		case 'j':
			pad(t.YearDay(), 3)
		case 'Z':
			name, _ := t.Zone()
			sb.WriteString(name)
		case 'z':
			sb.WriteString(t.Format("-0700"))
		case 'F':
			sb.WriteString(t.Format("2006-01-02"))
		case 'T':
			sb.WriteString(t.Format("15:04:05"))
		case '%':
			sb.WriteByte('%')
		default:
			sb.WriteByte('%')
			sb.WriteByte(format[i])
		}
	}
	return sb.String()
}
