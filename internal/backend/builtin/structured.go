package builtin

import (
	"bytes"
	"errors"
	"strings"
	"sync"

	"github.com/cerulean-ai/cerulean/internal/engine/grammar"
	"github.com/cerulean-ai/cerulean/internal/engine/runner"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// maxCachedGrammars bounds the grammar cache; when it is full it starts
// over (schemas are few in practice and compile in milliseconds).
const maxCachedGrammars = 256

// grammarCache holds compiled grammars keyed by their source: the schema
// bytes (with the strict flag) or the tool-call grammar text. Grammars are
// immutable, so one serves any number of concurrent requests.
type grammarCache struct {
	mu sync.Mutex
	m  map[string]*grammar.Grammar
}

func newGrammarCache() *grammarCache { return &grammarCache{m: map[string]*grammar.Grammar{}} }

// get returns the grammar cached under key, compiling it with build on a
// miss. Failures are not cached.
func (c *grammarCache) get(key string, build func() (*grammar.Grammar, error)) (*grammar.Grammar, error) {
	c.mu.Lock()
	g, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return g, nil
	}
	g, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedGrammars {
		clear(c.m)
	}
	c.m[key] = g
	c.mu.Unlock()
	return g, nil
}

// schemaGrammar compiles (or finds in the cache) the grammar of a JSON
// schema.
func (c *grammarCache) schemaGrammar(schema []byte, strict bool) (*grammar.Grammar, error) {
	key := "n\x00"
	if strict {
		key = "s\x00"
	}
	return c.get(key+string(schema), func() (*grammar.Grammar, error) {
		return grammar.CompileSchema(schema, grammar.Options{Strict: strict})
	})
}

// vocabIndex returns the model's grammar index, built on first use: the
// bytes of every token (control tokens have none and are never allowed by
// a grammar) and the end-of-generation ids.
func (lm *loaded) vocabIndex() *grammar.VocabIndex {
	lm.vocabOnce.Do(func() {
		pieces := make([][]byte, lm.vocab)
		var eog []int32
		for id := range int32(lm.vocab) {
			if int(id) < lm.tok.Len() {
				pieces[id] = []byte(lm.tok.Piece(id))
			}
			if lm.tok.IsEOG(id) {
				eog = append(eog, id)
			}
		}
		lm.vocabIdx = grammar.NewVocabIndex(pieces, eog)
	})
	return lm.vocabIdx
}

// constraint is the runner constraint for grammar g on this model.
// Forced text is tokenized without special tokens; a tokenizer that adds
// a space prefix (SentencePiece) produces tokens the grammar rejects, and
// then nothing is fast-forwarded (ForcedTokens cuts at the first rejected
// token), which is slower but still correct.
func (lm *loaded) constraint(g *grammar.Grammar) *runner.Constraint {
	return &runner.Constraint{
		Grammar: g,
		Vocab:   lm.vocabIndex(),
		Encode:  func(b []byte) []int32 { return lm.tok.Encode(string(b), false, false) },
	}
}

// responseGrammar returns the grammar a response_format asks for, or nil
// for text.
func (lm *loaded) responseGrammar(rf *inference.ResponseFormat) (*grammar.Grammar, error) {
	if rf == nil {
		return nil, nil
	}
	switch rf.Type {
	case "json_object":
		return grammar.JSONObject(), nil
	case "json_schema":
		if rf.JSONSchema == nil || isNull(rf.JSONSchema.Schema) {
			return grammar.JSONObject(), nil
		}
		strict := rf.JSONSchema.Strict != nil && *rf.JSONSchema.Strict
		g, err := lm.grammars.schemaGrammar(rf.JSONSchema.Schema, strict)
		if err != nil {
			return nil, schemaError("response_format.json_schema.schema", err)
		}
		return g, nil
	}
	return nil, nil
}

// schemaError turns a schema the grammar compiler rejects into a 400.
func schemaError(param string, err error) error {
	var se *grammar.SchemaError
	if errors.As(err, &se) {
		return badRequest(param, "Invalid schema: In context=%s, %s.", se.Path, se.Msg)
	}
	return badRequest(param, "The schema cannot be enforced by the built-in engine: %v.", err)
}

// isNull reports whether raw JSON is absent or null.
func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// trimSpace is strings.TrimSpace for the JSON whitespace set.
func trimSpace(s string) string { return strings.Trim(s, " \t\r\n") }
