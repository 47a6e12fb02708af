package inference

import (
	"errors"

	"github.com/cerulean-ai/cerulean/internal/engine/grammar"
)

// checkStrictSchema checks a schema sent with strict: true against OpenAI's
// strict subset (grammar.CompileSchema in strict mode) and reports the
// first violation as a 400 naming its JSON pointer. Only strict schemas are
// compiled here, so other requests pay nothing; the compiled grammar is not
// kept (backends compile and cache what they enforce).
func checkStrictSchema(param, what string, raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	_, err := grammar.CompileSchema(raw, grammar.Options{Strict: true})
	if err == nil {
		return nil
	}
	var se *grammar.SchemaError
	if errors.As(err, &se) {
		return invalid(param, CodeInvalidValue, "Invalid schema for %s: In context=%s, %s.", what, se.Path, se.Msg)
	}
	return invalid(param, CodeInvalidValue, "Invalid schema for %s: %v.", what, err)
}
