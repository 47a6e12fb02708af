package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/sample"
	"github.com/cerulean-ai/cerulean/internal/engine/tokenizer"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// testVocab is a vocabulary for driving the matcher with a sampler.
type testVocab struct {
	name    string
	pieces  [][]byte
	eog     []int32
	index   *VocabIndex
	encode  func([]byte) []int32
	closers []int32 // tokens holding `"`, `]` or `}`, and the EOG tokens
}

func newTestVocab(name string, pieces [][]byte, eog []int32, encode func([]byte) []int32) *testVocab {
	v := &testVocab{name: name, pieces: pieces, eog: eog, encode: encode}
	v.index = NewVocabIndex(pieces, eog)
	for id, p := range pieces {
		if bytes.ContainsAny(p, `"]}`) {
			v.closers = append(v.closers, int32(id))
		}
	}
	v.closers = append(v.closers, eog...)
	return v
}

// syntheticVocab is a small byte-level vocabulary: every byte, some JSON
// punctuation and words, and an end token; encode is greedy longest match.
func syntheticVocab() *testVocab {
	var pieces [][]byte
	for b := range 256 {
		pieces = append(pieces, []byte{byte(b)})
	}
	for _, s := range []string{`{"`, `":`, `",`, `"}`, `":"`, `","`, `"]`, `["`, `},{"`, `}]`, `]}`, `null`, `true`, `false`,
		`name`, `id`, `value`, `items`, `10`, `20`, `2024`, `-0`, `.5`, `e+`, `ab`, `the`, ` the`, `ing`, `é`, `☃`, `\n`, `\"`, `\u00`, `com`, `@`} {
		pieces = append(pieces, []byte(s))
	}
	pieces = append(pieces, nil) // a control token: never allowed
	eos := int32(len(pieces))
	pieces = append(pieces, nil)
	v := newTestVocab("synthetic", pieces, []int32{eos}, nil)
	v.encode = func(b []byte) []int32 {
		var out []int32
		for len(b) > 0 {
			best, bestLen := int32(b[0]), 1
			for id, p := range pieces {
				if len(p) > bestLen && bytes.HasPrefix(b, p) {
					best, bestLen = int32(id), len(p)
				}
			}
			out = append(out, best)
			b = b[bestLen:]
		}
		return out
	}
	return v
}

// gpt2Path is the GPT-2 vocabulary in the shared test data.
func gpt2Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "../../../../shared/testdata/tokenizer/ggml-vocab-gpt-2.gguf")
}

// loadGPT2 returns the GPT-2 vocabulary or skips tb.
func loadGPT2(tb testing.TB) *testVocab {
	tb.Helper()
	p := gpt2Path()
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("skipping: %s not found (shared test data absent)", p)
	}
	tok, err := tokenizer.Load(p)
	if err != nil {
		tb.Fatal(err)
	}
	pieces := make([][]byte, tok.Len())
	var eog []int32
	for id := range tok.Len() {
		pieces[id] = []byte(tok.Piece(int32(id)))
		if tok.IsEOG(int32(id)) {
			eog = append(eog, int32(id))
		}
	}
	return newTestVocab("gpt-2", pieces, eog, func(b []byte) []int32 { return tok.Encode(string(b), false, false) })
}

// driveResult is one generated output.
type driveResult struct {
	out    []byte
	ended  bool // the grammar completed and an end token was sampled
	tokens int
	forced int
}

// drive generates from random logits under g. Logits are standard normal
// times 2; to make outputs finish, tokens containing a closing character
// (`"`, `]`, `}`) and the end tokens get a bias that grows by 0.15 per
// generated token (capped at 12), so long strings, arrays and numbers
// become ever more likely to close. The bias only reorders allowed tokens,
// so every output stays valid. With fastForward, forced text is appended
// through ForcedTokens before sampling.
func drive(tb testing.TB, g *Grammar, v *testVocab, r *rand.Rand, seed int64, budget int, fastForward bool) driveResult {
	n := len(v.pieces)
	m := g.NewMatcher()
	s := sample.New(sample.Params{Temperature: 1, TopP: 1, RepetitionPenalty: 1, Seed: &seed}, n)
	logits := make([]float32, n)
	// Random logits: a window at a random offset into a pool of normal
	// values (drawing n normals per token would dominate the test's time).
	pool := make([]float32, 3*n)
	for i := range pool {
		pool[i] = float32(r.NormFloat64() * 2)
	}
	var res driveResult
	for res.tokens < budget {
		if fastForward {
			for _, id := range v.index.ForcedTokens(m, v.encode) {
				res.out = append(res.out, v.pieces[id]...)
				s.Accept(id)
				res.tokens++
				res.forced++
			}
		}
		copy(logits, pool[r.IntN(2*n):])
		bias := min(12, 0.15*float32(res.tokens))
		for _, id := range v.closers {
			logits[id] += bias
		}
		tok, err := s.SampleConstrained(logits, v.index.Filter(m))
		if err != nil {
			tb.Fatalf("after %q: %v", res.out, err)
		}
		res.tokens++
		s.Accept(tok.ID)
		if v.index.isEOG[tok.ID] {
			if !m.CanEnd() {
				tb.Fatalf("end token sampled where the grammar cannot end, after %q", res.out)
			}
			res.ended = true
			return res
		}
		if !v.index.Accept(m, tok.ID) {
			tb.Fatalf("sampled token %q rejected after %q", v.pieces[tok.ID], res.out)
		}
		res.out = append(res.out, v.pieces[tok.ID]...)
	}
	return res
}

// validator compiles schema for santhosh-tekuri/jsonschema with format
// assertions on.
func validator(tb testing.TB, schema string) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("mem://schema.json", doc); err != nil {
		tb.Fatal(err)
	}
	sch, err := c.Compile("mem://schema.json")
	if err != nil {
		tb.Fatalf("validator rejects %s: %v", schema, err)
	}
	return sch
}

type corpusSchema struct {
	name, schema string
	strict       bool
}

// corpus returns 200 random schemas (half strict style) and the
// hand-written ones.
func corpus() []corpusSchema {
	var out []corpusSchema
	for _, h := range handSchemas {
		out = append(out, corpusSchema{h.name, h.schema, h.strict})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		g := &schemaGen{r: r, strict: i%2 == 0}
		out = append(out, corpusSchema{fmt.Sprintf("random-%d", i), g.root(), g.strict})
	}
	return out
}

// TestCorpus generates outputs for every corpus schema and checks that each
// complete output is JSON valid against its schema. It uses the GPT-2
// vocabulary normally and the small synthetic one with -short or -race (and
// always the synthetic one too, so it runs without the shared test data).
func TestCorpus(t *testing.T) {
	vocabs := []*testVocab{syntheticVocab()}
	if !testing.Short() && !raceEnabled {
		if _, err := os.Stat(gpt2Path()); err == nil {
			vocabs = append(vocabs, loadGPT2(t))
		} else {
			t.Logf("GPT-2 vocabulary absent (%s): synthetic vocabulary only", gpt2Path())
		}
	}
	schemas := corpus()
	for _, v := range vocabs {
		runs, budget := 1, 400
		if v.name == "synthetic" {
			runs, budget = 2, 600
			if raceEnabled {
				budget = 300
			}
		}
		var total, ended, cut, tokens, forced, warned int
		for i, cs := range schemas {
			g, err := CompileSchema([]byte(cs.schema), Options{Strict: cs.strict})
			if err != nil {
				t.Fatalf("%s: %v\n%s", cs.name, err, cs.schema)
			}
			if len(g.Warnings) > 0 {
				warned++
			}
			sch := validator(t, cs.schema)
			for run := range runs {
				seed := int64(i*10 + run)
				r := rand.New(rand.NewPCG(uint64(seed), 7))
				res := drive(t, g, v, r, seed, budget, (i+run)%2 == 1)
				total++
				tokens += res.tokens
				forced += res.forced
				if !res.ended {
					cut++
					continue
				}
				ended++
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.out))
				if err != nil || !json.Valid(res.out) {
					t.Errorf("%s: output is not JSON: %v\n%s", cs.name, err, res.out)
					continue
				}
				if err := sch.Validate(inst); err != nil {
					t.Errorf("%s: invalid output %s\n%v\nschema %s", cs.name, res.out, err, cs.schema)
				}
			}
		}
		t.Logf("%s vocabulary: %d schemas (%d with warnings), %d outputs: %d complete and valid-checked, %d cut by the %d-token budget (%.1f%%); %d tokens, %d fast-forwarded",
			v.name, len(schemas), warned, total, ended, cut, budget, 100*float64(cut)/float64(total), tokens, forced)
	}
}
