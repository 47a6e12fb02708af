package inference

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// Error codes of invalid requests, as OpenAI names them.
const (
	CodeInvalidValue      = "invalid_value"
	CodeInvalidType       = "invalid_type"
	CodeMissingParameter  = "missing_required_parameter"
	CodeIntegerAboveMax   = "integer_above_max_value"
	CodeIntegerBelowMin   = "integer_below_min_value"
	CodeDecimalAboveMax   = "decimal_above_max_value"
	CodeDecimalBelowMin   = "decimal_below_min_value"
	CodeArrayTooLong      = "array_above_max_length"
	CodeEmptyArray        = "empty_array"
	CodeStringTooLong     = "string_above_max_length"
	CodeEmptyString       = "empty_string"
	CodeUnsupportedValue  = "unsupported_value"
	CodeInvalidJSON       = "invalid_json"
	CodeObjectTooDeep     = "object_too_deep"
	CodeTooManyProperties = "object_above_max_properties"
)

// Bounds of a request, beyond which it is rejected with a 400. They keep
// one request's cost bounded whatever the backend.
const (
	MaxMessages        = 2048    // chat messages per request
	MaxContentParts    = 1024    // parts per message
	MaxChoices         = 128     // n
	MaxStop            = 4       // stop sequences
	MaxStopLen         = 1024    // bytes per stop sequence
	MaxTokensLimit     = 1 << 20 // max_tokens, max_completion_tokens
	MaxLogitBias       = 1024    // logit_bias entries
	MaxTopLogprobs     = 20      // chat top_logprobs
	MaxLegacyLogprobs  = 5       // completions logprobs
	MaxBestOf          = 20      // completions best_of
	MaxTools           = 128     // tools
	MaxNameLen         = 64      // function and schema names
	MaxSchemaBytes     = 256 << 10
	MaxSchemaDepth     = 64 // JSON nesting of a schema or tool parameters
	MaxPrompts         = 2048
	MaxEmbeddingInputs = 2048
	MaxDimensions      = 1 << 16
	MaxMetadata        = 16
	MaxTokenID         = 1<<31 - 1
)

// invalid returns an Invalid error about param.
func invalid(param, code, format string, args ...any) error {
	return fault.Param(param, code, format, args...)
}

func missing(param string) error {
	return invalid(param, CodeMissingParameter, "Missing required parameter: '%s'.", param)
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// checkFloat checks that an optional decimal lies in [lo, hi].
func checkFloat(param string, v *float64, lo, hi float64) error {
	if v == nil {
		return nil
	}
	switch {
	case *v < lo:
		return invalid(param, CodeDecimalBelowMin, "Invalid '%s': decimal below minimum value. Expected a value >= %s, but got %s instead.", param, fmtFloat(lo), fmtFloat(*v))
	case *v > hi:
		return invalid(param, CodeDecimalAboveMax, "Invalid '%s': decimal above maximum value. Expected a value <= %s, but got %s instead.", param, fmtFloat(hi), fmtFloat(*v))
	}
	return nil
}

// checkInt checks that an optional integer lies in [lo, hi].
func checkInt(param string, v *int, lo, hi int) error {
	if v == nil {
		return nil
	}
	return checkIntValue(param, *v, lo, hi)
}

func checkIntValue(param string, v, lo, hi int) error {
	switch {
	case v < lo:
		return invalid(param, CodeIntegerBelowMin, "Invalid '%s': integer below minimum value. Expected a value >= %d, but got %d instead.", param, lo, v)
	case v > hi:
		return invalid(param, CodeIntegerAboveMax, "Invalid '%s': integer above maximum value. Expected a value <= %d, but got %d instead.", param, hi, v)
	}
	return nil
}

func checkLen(param string, n, lo, hi int) error {
	switch {
	case n < lo && n == 0:
		return invalid(param, CodeEmptyArray, "Invalid '%s': empty array. Expected an array with minimum length %d, but got an empty array instead.", param, lo)
	case n < lo:
		return invalid(param, CodeInvalidValue, "Invalid '%s': array too short. Expected an array with minimum length %d, but got an array with length %d instead.", param, lo, n)
	case n > hi:
		return invalid(param, CodeArrayTooLong, "Invalid '%s': array too long. Expected an array with maximum length %d, but got an array with length %d instead.", param, hi, n)
	}
	return nil
}

// oneOf checks that v is one of the allowed values.
func oneOf(param, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	quoted := make([]string, len(allowed))
	for i, a := range allowed {
		quoted[i] = "'" + a + "'"
	}
	list := strings.Join(quoted, ", ")
	if n := len(quoted); n > 1 {
		list = strings.Join(quoted[:n-1], ", ") + ", and " + quoted[n-1]
	}
	return invalid(param, CodeInvalidValue, "Invalid value for '%s': %q. Supported values are: %s.", param, v, list)
}

// checkStop checks stop sequences.
func checkStop(s Strings) error {
	if err := checkLen("stop", len(s), 0, MaxStop); err != nil {
		return err
	}
	for i, x := range s {
		if len(x) > MaxStopLen {
			return invalid(fmt.Sprintf("stop[%d]", i), CodeStringTooLong, "Invalid 'stop[%d]': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", i, MaxStopLen, len(x))
		}
	}
	return nil
}

// checkLogitBias checks that keys are token ids and values lie in -100..100.
func checkLogitBias(m map[string]float64) error {
	if len(m) > MaxLogitBias {
		return invalid("logit_bias", CodeArrayTooLong, "Invalid 'logit_bias': too many entries. Expected at most %d, but got %d.", MaxLogitBias, len(m))
	}
	for k, v := range m {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || id < 0 || id > MaxTokenID {
			return invalid("logit_bias", CodeInvalidValue, "Invalid 'logit_bias': key %q is not a token id. Keys must be non-negative integers given as strings, such as \"50256\".", k)
		}
		if v < -100 || v > 100 {
			return invalid("logit_bias", CodeInvalidValue, "Invalid 'logit_bias': the bias of token %s is %s. Expected a value between -100 and 100.", k, fmtFloat(v))
		}
	}
	return nil
}

// checkSampling checks the sampling fields shared by chat and completions.
func checkSampling(temperature, topP, presence, frequency, minP *float64, n, topK *int) error {
	if err := checkFloat("temperature", temperature, 0, 2); err != nil {
		return err
	}
	if err := checkFloat("top_p", topP, 0, 1); err != nil {
		return err
	}
	if err := checkInt("n", n, 1, MaxChoices); err != nil {
		return err
	}
	if err := checkFloat("presence_penalty", presence, -2, 2); err != nil {
		return err
	}
	if err := checkFloat("frequency_penalty", frequency, -2, 2); err != nil {
		return err
	}
	if err := checkFloat("min_p", minP, 0, 1); err != nil {
		return err
	}
	// -1 is vLLM's "no top-k".
	return checkInt("top_k", topK, -1, 1<<20)
}

// isName reports whether s is 1..64 of [a-zA-Z0-9_-].
func isName(s string) bool {
	if s == "" || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(param, s string) error {
	if s == "" {
		return missing(param)
	}
	if !isName(s) {
		return invalid(param, CodeInvalidValue, "Invalid '%s': string does not match pattern. Expected a string of 1 to %d characters that matches the pattern '^[a-zA-Z0-9_-]+$', but got %q.", param, MaxNameLen, s)
	}
	return nil
}

// checkSchemaObject checks a JSON schema or function parameters: a JSON
// object, at most MaxSchemaBytes long and MaxSchemaDepth deep.
func checkSchemaObject(param string, raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, null) {
		return nil
	}
	if raw[0] != '{' {
		return invalid(param, CodeInvalidType, "Invalid type for '%s': expected an object, but got %s instead.", param, kindOf(raw))
	}
	if len(raw) > MaxSchemaBytes {
		return invalid(param, CodeInvalidValue, "Invalid '%s': the schema is %d bytes long; at most %d are allowed.", param, len(raw), MaxSchemaBytes)
	}
	if d := jsonDepth(raw); d > MaxSchemaDepth {
		return invalid(param, CodeObjectTooDeep, "Invalid '%s': the schema nests %d levels deep; at most %d are allowed.", param, d, MaxSchemaDepth)
	}
	return nil
}

// jsonDepth is the deepest nesting of objects and arrays in valid JSON.
func jsonDepth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}
