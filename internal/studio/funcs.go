package studio

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

// tab is one link of a project's navigation.
type tab struct{ Path, Label string }

// numField is one numeric input of the playground.
type numField struct{ ID, Name, Label, Value, Error string }

// funcMap are the template functions.
func funcMap() template.FuncMap {
	return template.FuncMap{
		"projectTabs": func() []tab {
			return []tab{
				{"deployments", "Deployments"}, {"playground", "Playground"}, {"keys", "Keys & endpoint"},
				{"usage", "Usage & cost"}, {"alerts", "Alerts"}, {"fine-tuning", "Fine-tuning"}, {"files", "Files"},
			}
		},
		"errFor": func(errs []formError, field string) string {
			for _, e := range errs {
				if e.Field == field {
					return e.Message
				}
			}
			return ""
		},
		"lifecycle":  lifecycleLabel,
		"lifecycles": func() []string { return []string{"generally-available", "preview", "deprecated"} },
		"capabilityOptions": func() []struct{ Key, Label string } {
			return append(capabilityFilters(), struct{ Key, Label string }{"fine_tune", "Fine-tune"})
		},
		"pgField": func(id, name, label, value string, errs []formError) numField {
			f := numField{ID: id, Name: name, Label: label, Value: value}
			for _, e := range errs {
				if e.Field == name {
					f.Error = e.Message
				}
			}
			return f
		},
		"int64": func(i int) int64 { return int64(i) },
		"keyPairs": func(k api.Keys) []struct{ Name, Value string } {
			return []struct{ Name, Value string }{{"key1", k.Key1}, {"key2", k.Key2}}
		},
		"money": money,
		"price": func(v float64) string { return "$" + strconv.FormatFloat(v, 'f', -1, 64) },
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"join":    strings.Join,
		"inc":     func(i int) int { return i + 1 },
		"percent": func(f float64) string { return strconv.FormatFloat(f*100, 'f', 0, 64) + "%" },
		"num":     thousands,
		"stateClass": func(state string) string {
			switch state {
			case "Succeeded":
				return "ok"
			case "Failed":
				return "bad"
			default:
				return "busy"
			}
		},
	}
}

// lifecycleLabel is the badge text of a lifecycle status.
func lifecycleLabel(s string) string {
	switch s {
	case "preview":
		return "Preview"
	case "deprecated":
		return "Deprecated"
	case "", "generally-available":
		return "GA"
	}
	return s
}

// money formats dollars with cents, more digits for small amounts.
func money(v float64) string {
	if v != 0 && v < 0.01 && v > -0.01 {
		return fmt.Sprintf("$%.6f", v)
	}
	return "$" + thousandsF(v, 2)
}

// thousands formats n with commas.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// thousandsF formats v with commas and prec decimals.
func thousandsF(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(whole, 10, 64)
	out := thousands(n)
	if whole == "-0" {
		out = "-0"
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}
