// Package grammar constrains generation to a grammar so that structured
// outputs and tool calls are guaranteed: JSON schemas (OpenAI
// response_format json_schema and strict function tools), any JSON object
// (json_object mode), or GBNF text.
//
// # Pipeline
//
// A front end (CompileSchema, JSONObject, ParseGBNF) produces rules whose
// bodies are regular expressions over bytes with references to other
// rules. compile turns every rule into a deterministic byte automaton
// (Thompson construction, then subset construction over byte equivalence
// classes); a reference becomes a call edge, so the whole grammar is a
// pushdown automaton and recursion ($ref cycles, GBNF rules) costs a stack
// push. Small leaf schemas (strings, numbers, enums) are inlined into their
// parent's automaton; objects, arrays and references are rules. Left
// recursion is rejected at compile time.
//
// The Matcher is a stack-of-positions recognizer over those automata (see
// matcher.go): a set of (state, persistent stack) threads, closed over
// calls and returns after each byte. JSON grammars keep a single thread
// almost always, so a byte is one table lookup. This was chosen over an
// Earley parser because the schema grammars are nearly deterministic and a
// DFA step is far cheaper than Earley item sets; GBNF grammars may be
// ambiguous and are bounded by a per-step thread limit.
//
// A VocabIndex holds the vocabulary as a byte trie flattened in preorder.
// The full mask walks it once, advancing the thread set one byte per trie
// edge and skipping a whole subtree on the first rejected byte, so tokens
// sharing a prefix share the work (no per-state precomputation, so compile
// time stays in milliseconds).
//
// # Schemas
//
// Enforced exactly: types (with ["t","null"] unions), properties in schema
// order (required always; optional ones, in non-strict mode, may be
// omitted), required names without a property schema (any value),
// additionalProperties as a map when no properties are listed, enum and
// const (any JSON values, emitted compactly with the schema's key order),
// anyOf and oneOf (as alternation; oneOf exclusivity is not checked),
// $ref to any local JSON pointer including recursion, items with
// minItems/maxItems, string minLength/maxLength (code points, up to 2000),
// pattern (ECMAScript subset, see regex.go; ^ and $ only at the edges of
// top-level alternatives; backreferences and lookaround are a
// SchemaError), format date, time, date-time, uuid, email, ipv4, hostname
// and duration (subsets of each format that validators accept, see
// formats.go), integer vs number syntax, booleans and null. JSON string
// escapes: `"`, `\` and control characters must be escaped; \uXXXX
// outside the surrogate range is allowed (emoji are written as raw UTF-8).
// Number exponents have at most two digits (larger ones overflow float64).
//
// Numeric bounds are enforced only where the syntax makes it cheap: a
// lower bound >= 0 forbids the sign, integers with a lower bound >= 1
// forbid zero, an integer upper bound <= -1 forces the sign, and an
// integer range of at most 512 values is enforced exactly. Other bounds
// and multipleOf are not enforced and produce a warning: callers that care
// should validate the finished output (post-check) and retry or report.
// Additional properties are never generated. Unsupported keywords (allOf,
// not, if/then/else, uniqueItems, patternProperties, ipv6 format...) are
// ignored in non-strict mode and listed in Grammar.Warnings; strict mode
// rejects them with a *SchemaError naming the JSON pointer.
//
// Whitespace outside strings is compact by default (none at all: fastest,
// shortest, and the most forced text); WhitespaceLimited allows short runs.
//
// # Use by the engine
//
// Once per model: NewVocabIndex(pieces, eog) with pieces[id] the bytes of
// token id (tokenizer Piece) and eog the end-of-generation ids.
//
// Once per request: g, err := CompileSchema(schema, Options{Strict: strict})
// (or JSONObject(), or ParseGBNF(src)); a *SchemaError maps to an OpenAI
// 400. Grammars are immutable and can be cached by schema text.
//
// Once per sequence (each of n choices): m := g.NewMatcher().
//
// Per token:
//
//	// optional fast-forward: tokens the grammar forces, appended without
//	// sampling (evaluate them in one batch, Sampler.Accept each)
//	for _, id := range index.ForcedTokens(m, encode) { ... }
//	tok, err := sampler.SampleConstrained(logits, index.Filter(m))
//	sampler.Accept(tok.ID)
//	if tokenizer.IsEOG(tok.ID) { stop: m.CanEnd() was true }
//	index.Accept(m, tok.ID)
//	if m.Finished() { the next token can only be EOG: stop (finish_reason stop) }
//
// Filter checks only the sampled token (Allows, a few tens of ns) and
// computes the full mask (AllowedTokens) only when the sampler rejects it
// and scans the vocabulary. If the token budget runs out before CanEnd,
// the output is cut (finish_reason length) and is not valid JSON, as with
// OpenAI.
package grammar
