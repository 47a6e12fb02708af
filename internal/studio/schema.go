package studio

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
)

// maxSchemaDepth bounds the nesting validateSchema follows.
const maxSchemaDepth = 32

// validateSchema checks v (decoded JSON) against the common core of a JSON
// schema: type, properties, required, additionalProperties: false, items
// and enum. Other keywords are ignored: the server-side check is a helper
// for the playground, not a full validator (the engine's constrained
// decoding enforces the strict subset).
func validateSchema(schema, v any, at string) error {
	return validateAt(schema, v, at, 0)
}

func validateAt(schema, v any, at string, depth int) error {
	s, ok := schema.(map[string]any)
	if !ok || depth > maxSchemaDepth {
		return nil
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		return fmt.Errorf("%s: %v is not one of the enum values", at, v)
	}
	if t, ok := s["type"]; ok && !typeMatches(t, v) {
		return fmt.Errorf("%s: want type %v, got %s", at, t, jsonType(v))
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if name, ok := r.(string); ok {
					if _, present := x[name]; !present {
						return fmt.Errorf("%s: required property %q is missing", at, name)
					}
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, known := props[k]
			if !known {
				if ap, ok := s["additionalProperties"].(bool); ok && !ap {
					return fmt.Errorf("%s: property %q is not allowed", at, k)
				}
				continue
			}
			if err := validateAt(sub, x[k], at+"."+k, depth+1); err != nil {
				return err
			}
		}
	case []any:
		if items, ok := s["items"]; ok {
			for i, e := range x {
				if err := validateAt(items, e, fmt.Sprintf("%s[%d]", at, i), depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// typeMatches reports whether v is of schema type t (a name or a list).
func typeMatches(t, v any) bool {
	switch tt := t.(type) {
	case string:
		got := jsonType(v)
		if tt == "number" && got == "integer" {
			return true
		}
		return tt == got
	case []any:
		for _, x := range tt {
			if typeMatches(x, v) {
				return true
			}
		}
		return false
	}
	return true
}

// jsonType is the JSON schema type name of a decoded value.
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}
