package grammar

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// schemaGen writes random schemas as JSON text. Every constraint it uses is
// one the grammar enforces exactly, so that every complete output must
// validate: oneOf only over disjoint types, numeric bounds only where the
// compiler enforces them (integer ranges, minimum 0), patterns that mean
// the same in ECMAScript and Go's RE2 (the validator's engine).
type schemaGen struct {
	r      *rand.Rand
	strict bool // OpenAI strict style: every property required, no extras
}

var genPatterns = []string{
	`^[A-Z]{3}$`, `^\\d{3}-\\d{4}$`, `^[a-z]+(-[a-z]+)*$`, `^(foo|bar|baz)\\d?$`,
	`^#[0-9a-fA-F]{6}$`, `[aeiou]{2}`, `^SKU-[0-9]{4,6}$`, `^\\w+@\\w+\\.com$`,
	`^[^\"\\\\]{0,5}$`, `^(\\+|-)?[0-9]{1,3}(\\.[0-9]{2})?$`, `x$`, `^[A-Z][a-z]*( [A-Z][a-z]*){0,2}$`,
}

var genFormats = []string{"date", "date-time", "time", "uuid", "email", "ipv4", "hostname", "duration"}

var genEnumStrings = []string{`"red"`, `"green"`, `"blue \"quoted\""`, `"naïve ☃"`, `"back\\slash"`, `"tab\there"`, `""`}

func (g *schemaGen) pick(n int) int { return g.r.IntN(n) }

// root returns a root object schema, sometimes with a recursive
// definition under $defs.
func (g *schemaGen) root() string {
	if g.pick(3) != 0 {
		return g.object(0, "")
	}
	node := `{"type":"object","properties":{"label":{"type":"string","maxLength":8},"children":{"type":"array","maxItems":2,"items":{"$ref":"#/$defs/node"}}},"required":["label","children"],"additionalProperties":false}`
	if g.strict {
		node = `{"type":"object","properties":{"label":{"type":"string","enum":["a","b","c"]},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["label","next"],"additionalProperties":false}`
	}
	body := g.object(0, "tree")
	return strings.TrimSuffix(body, "}") + `,"$defs":{"node":` + node + `}}`
}

// object returns an object schema; a non-empty ref names a required first
// property that refers to the "node" definition.
func (g *schemaGen) object(depth int, ref string) string {
	n := 1 + g.pick(4)
	var props, req []string
	if ref != "" {
		props = append(props, strconv.Quote(ref)+`:{"$ref":"#/$defs/node"}`)
		req = append(req, strconv.Quote(ref))
	}
	for i := range n {
		name := fmt.Sprintf("%s%d", []string{"id", "name", "value", "items", "meta", "flag", "när", "a/b"}[g.pick(8)], i)
		props = append(props, strconv.Quote(name)+":"+g.value(depth+1))
		if g.strict || g.pick(3) > 0 {
			req = append(req, strconv.Quote(name))
		}
	}
	s := `{"type":"object","properties":{` + strings.Join(props, ",") + `},"required":[` + strings.Join(req, ",") + `]`
	if g.strict || g.pick(2) == 0 {
		s += `,"additionalProperties":false`
	}
	return s + "}"
}

func (g *schemaGen) value(depth int) string {
	k := g.pick(16)
	if depth >= 4 && k >= 11 {
		k = g.pick(11)
	}
	switch k {
	case 0:
		if !g.strict && g.pick(2) == 0 {
			return fmt.Sprintf(`{"type":"string","minLength":%d,"maxLength":%d}`, g.pick(3), 3+g.pick(10))
		}
		return `{"type":"string"}`
	case 1:
		return `{"type":"string","pattern":"` + genPatterns[g.pick(len(genPatterns))] + `"}`
	case 2:
		return `{"type":"string","format":"` + genFormats[g.pick(len(genFormats))] + `"}`
	case 3:
		lo := g.pick(200) - 100
		return fmt.Sprintf(`{"type":"integer","minimum":%d,"maximum":%d}`, lo, lo+g.pick(300))
	case 4:
		if g.pick(2) == 0 {
			return `{"type":"integer"}`
		}
		return `{"type":"number","minimum":0}`
	case 5:
		return `{"type":"boolean"}`
	case 6:
		t := []string{"string", "integer", "boolean", "number"}[g.pick(4)]
		return `{"type":["` + t + `","null"]}`
	case 7:
		var vals []string
		for range 1 + g.pick(4) {
			vals = append(vals, []string{genEnumStrings[g.pick(len(genEnumStrings))], "1", "-2.5", "null", "true"}[g.pick(5)])
		}
		return `{"enum":[` + strings.Join(vals, ",") + `]}`
	case 8:
		return `{"const":` + []string{`"fixed"`, `42`, `{"k":[1,"v"]}`, `null`}[g.pick(4)] + `}`
	case 9:
		if g.strict {
			return `{"anyOf":[{"type":"string","format":"date"},{"type":"integer"},{"type":"null"}]}`
		}
		return `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}`
	case 10:
		return `{"type":"null"}`
	case 11, 12:
		return g.object(depth, "")
	case 13, 14:
		lo := g.pick(3)
		hi := lo + g.pick(4)
		return fmt.Sprintf(`{"type":"array","items":%s,"minItems":%d,"maxItems":%d}`, g.value(depth+1), lo, hi)
	default:
		return `{"anyOf":[` + g.object(depth, "") + `,{"type":"array","items":{"type":"integer"},"maxItems":3},{"type":"null"}]}`
	}
}

// handSchemas are realistic schemas (strict ones first).
var handSchemas = []struct {
	name, schema string
	strict       bool
}{
	{"invoice", `{"type":"object","properties":{"invoice_number":{"type":"string","pattern":"^INV-[0-9]{6}$"},"issued":{"type":"string","format":"date"},"customer":{"type":"object","properties":{"name":{"type":"string"},"email":{"type":"string","format":"email"},"vat_id":{"type":["string","null"]}},"required":["name","email","vat_id"],"additionalProperties":false},"lines":{"type":"array","minItems":1,"maxItems":4,"items":{"type":"object","properties":{"sku":{"type":"string","pattern":"^[A-Z]{3}-[0-9]{3}$"},"description":{"type":"string"},"quantity":{"type":"integer","minimum":1,"maximum":100},"unit_price":{"type":"number","minimum":0}},"required":["sku","description","quantity","unit_price"],"additionalProperties":false}},"currency":{"type":"string","enum":["EUR","USD","GBP"]},"paid":{"type":"boolean"}},"required":["invoice_number","issued","customer","lines","currency","paid"],"additionalProperties":false}`, true},
	{"calendar event", `{"type":"object","properties":{"title":{"type":"string"},"start":{"type":"string","format":"date-time"},"end":{"type":"string","format":"date-time"},"location":{"anyOf":[{"type":"string"},{"type":"null"}]},"attendees":{"type":"array","maxItems":3,"items":{"type":"object","properties":{"email":{"type":"string","format":"email"},"rsvp":{"type":"string","enum":["yes","no","maybe"]}},"required":["email","rsvp"],"additionalProperties":false}},"recurrence":{"type":["string","null"],"enum":["daily","weekly","monthly",null]}},"required":["title","start","end","location","attendees","recurrence"],"additionalProperties":false}`, true},
	{"comment thread", `{"type":"object","properties":{"thread":{"$ref":"#/$defs/comment"}},"required":["thread"],"additionalProperties":false,"$defs":{"comment":{"type":"object","properties":{"author":{"type":"string","pattern":"^@[a-z0-9_]{1,15}$"},"text":{"type":"string"},"upvotes":{"type":"integer","minimum":0,"maximum":50},"replies":{"type":"array","maxItems":2,"items":{"$ref":"#/$defs/comment"}}},"required":["author","text","upvotes","replies"],"additionalProperties":false}}}`, true},
	{"tree via root ref", `{"type":"object","properties":{"value":{"type":"integer","minimum":0,"maximum":9},"left":{"anyOf":[{"$ref":"#"},{"type":"null"}]},"right":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["value","left","right"],"additionalProperties":false}`, true},
	{"product catalog", `{"type":"object","properties":{"products":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"name":{"type":"string"},"category":{"type":"string","enum":["books","garden","toys","électronique"]},"color":{"type":"string","pattern":"^#[0-9a-f]{6}$"},"price":{"type":"number","minimum":0},"tags":{"type":"array","maxItems":3,"items":{"type":"string","pattern":"^[a-z]{2,10}$"}},"in_stock":{"type":"boolean"}},"required":["id","name","category","color","price","tags","in_stock"],"additionalProperties":false}}},"required":["products"],"additionalProperties":false}`, true},
	{"weather tool", `{"type":"object","properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer","minimum":1,"maximum":14}},"required":["location","unit","days"],"additionalProperties":false}`, true},
	{"sql query tool", `{"type":"object","properties":{"table":{"type":"string","enum":["users","orders","products"]},"columns":{"type":"array","items":{"type":"string","pattern":"^[a-z_]+$"},"minItems":1,"maxItems":4},"conditions":{"type":"array","maxItems":2,"items":{"type":"object","properties":{"column":{"type":"string"},"operator":{"type":"string","enum":["=",">","<",">=","<=","!="]},"value":{"anyOf":[{"type":"string"},{"type":"number"},{"type":"boolean"},{"type":"null"}]}},"required":["column","operator","value"],"additionalProperties":false}},"order_by":{"type":["string","null"]}},"required":["table","columns","conditions","order_by"],"additionalProperties":false}`, true},
	{"server config", `{"type":"object","properties":{"host":{"type":"string","format":"hostname"},"ip":{"type":"string","format":"ipv4"},"port":{"type":"integer","minimum":1,"maximum":500},"timeout":{"type":"string","format":"duration"},"tls":{"type":"object","properties":{"enabled":{"type":"boolean"},"cert":{"type":["string","null"]}},"required":["enabled","cert"],"additionalProperties":false}},"required":["host","ip","port","timeout","tls"],"additionalProperties":false}`, true},
	{"math reasoning", `{"type":"object","properties":{"steps":{"type":"array","maxItems":3,"items":{"type":"object","properties":{"explanation":{"type":"string"},"output":{"type":"string"}},"required":["explanation","output"],"additionalProperties":false}},"final_answer":{"type":"string"}},"required":["steps","final_answer"],"additionalProperties":false}`, true},
	{"ui component", `{"type":"object","properties":{"type":{"type":"string","enum":["div","button","header","section","field","form"]},"label":{"type":"string"},"children":{"type":"array","maxItems":2,"items":{"$ref":"#"}},"attributes":{"type":"array","maxItems":2,"items":{"type":"object","properties":{"name":{"type":"string"},"value":{"type":"string"}},"required":["name","value"],"additionalProperties":false}}},"required":["type","label","children","attributes"],"additionalProperties":false}`, true},
	{"entity extraction", `{"type":"object","properties":{"people":{"type":"array","maxItems":3,"items":{"type":"string"}},"dates":{"type":"array","maxItems":2,"items":{"type":"string","format":"date"}},"sentiment":{"type":"string","enum":["positive","neutral","negative"]},"confidence":{"type":"number","minimum":0}},"required":["people","dates","sentiment","confidence"],"additionalProperties":false}`, true},
	{"moderation", `{"type":"object","properties":{"is_violating":{"type":"boolean"},"category":{"type":["string","null"],"enum":["violence","sexual","self_harm",null]},"explanation_if_violating":{"type":["string","null"]}},"required":["is_violating","category","explanation_if_violating"],"additionalProperties":false}`, true},
	{"shipping label", `{"type":"object","properties":{"tracking":{"type":"string","pattern":"^1Z[0-9A-Z]{16}$"},"weight_kg":{"type":"number","minimum":0},"from":{"$ref":"#/$defs/address"},"to":{"$ref":"#/$defs/address"}},"required":["tracking","weight_kg","from","to"],"additionalProperties":false,"$defs":{"address":{"type":"object","properties":{"street":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}(-[0-9]{4})?$"},"country":{"type":"string","enum":["US","CA","MX"]}},"required":["street","zip","country"],"additionalProperties":false}}}`, true},
	{"meeting slots", `{"type":"object","properties":{"slots":{"type":"array","minItems":1,"maxItems":3,"items":{"type":"object","properties":{"day":{"type":"string","format":"date"},"from":{"type":"string","format":"time"},"minutes":{"type":"integer","enum":[15,30,45,60]}},"required":["day","from","minutes"],"additionalProperties":false}}},"required":["slots"],"additionalProperties":false}`, true},
	{"linked list", `{"type":"object","properties":{"head":{"$ref":"#/$defs/cell"}},"required":["head"],"additionalProperties":false,"$defs":{"cell":{"type":"object","properties":{"v":{"type":"string","pattern":"^[a-z]{1,4}$"},"next":{"anyOf":[{"$ref":"#/$defs/cell"},{"type":"null"}]}},"required":["v","next"],"additionalProperties":false}}}`, true},
	{"user profile (optional fields)", `{"type":"object","properties":{"username":{"type":"string","pattern":"^[a-z0-9_]{3,12}$"},"bio":{"type":"string","maxLength":20},"age":{"type":"integer","minimum":13,"maximum":120},"website":{"type":"string"},"tags":{"type":"array","items":{"type":"string","maxLength":6},"maxItems":3}},"required":["username"]}`, false},
	{"feature flags map", `{"type":"object","properties":{"flags":{"type":"object","additionalProperties":{"type":"boolean"}},"version":{"const":2}},"required":["flags","version"]}`, false},
	{"json-rpc", `{"type":"object","properties":{"jsonrpc":{"const":"2.0"},"method":{"type":"string","pattern":"^[a-z]+\\.[a-z]+$"},"params":{"type":"array","maxItems":3,"items":{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]}},"id":{"type":["integer","null"]}},"required":["jsonrpc","method","id"],"additionalProperties":false}`, false},
	{"recipe", `{"type":"object","properties":{"title":{"type":"string"},"servings":{"type":"integer","minimum":1,"maximum":12},"ingredients":{"type":"array","minItems":1,"maxItems":4,"items":{"type":"object","properties":{"item":{"type":"string"},"amount":{"type":"number","minimum":0},"unit":{"enum":["g","ml","tsp","tbsp","cup",null]}},"required":["item","amount"]}},"vegan":{"type":"boolean"}},"required":["title","servings","ingredients"]}`, false},
	{"free-form metadata", `{"type":"object","properties":{"kind":{"type":"string","enum":["note","task"]},"extra":{}},"required":["kind","extra"]}`, false},
}
