package studio

import (
	"fmt"
	"html/template"
	"math"
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
		"join":       strings.Join,
		"num":        thousands,
		"pct":        pct,
		"dec":        dec,
		"pcts":       percents,
		"budgetList": newBudgetList,
		"webhookField": func(prefix, u, errMsg string) webhookField {
			return webhookField{Prefix: prefix, URL: u, Error: errMsg}
		},
		"capacityUnit": capacityUnit,
		"preview":      preview,
		"ms":           func(f float64) string { return thousandsF(f, 0) + " ms" },
		"alertClass": func(state string) string {
			switch state {
			case "firing", "failed":
				return "bad"
			case "pending":
				return "busy"
			default:
				return "ok"
			}
		},
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

// budgetList is the data of the "budgets" template: a project's or hub's
// budgets; Editable ones link to their delete confirmation.
type budgetList struct {
	Budgets  []budgetView
	Project  string
	Editable bool
}

func newBudgetList(bs []budgetView, project string, editable bool) budgetList {
	return budgetList{Budgets: bs, Project: project, Editable: editable}
}

// webhookField is the data of the "webhookfields" template: the id prefix
// of the form, the URL as typed and its error.
type webhookField struct{ Prefix, URL, Error string }

// capacityUnit is what a deployment type's capacity counts.
func capacityUnit(sku string) string {
	switch {
	case sku == "ManagedCompute":
		return "replicas"
	case strings.Contains(sku, "Provisioned"):
		return "PTUs"
	}
	return "K-TPM"
}

// previewLen is how many characters of a logged body the log table shows.
const previewLen = 120

// preview shortens a logged body to one line of previewLen characters.
func preview(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > previewLen {
		return string(r[:previewLen]) + "…"
	}
	return s
}

// pct formats a percent: one decimal below 10, none above.
func pct(f float64) string {
	if math.Abs(f) < 10 {
		return dec1(f) + "%"
	}
	return thousandsF(f, 0) + "%"
}

// dec1 formats f with at most one decimal.
func dec1(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

// dec formats a metric value with at most two decimals.
func dec(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }
