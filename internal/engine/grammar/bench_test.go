package grammar

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// benchSchema is the invoice schema: strings, patterns, formats, enums,
// nested objects and arrays.
func benchSchema(tb testing.TB) *Grammar {
	tb.Helper()
	g, err := CompileSchema([]byte(handSchemas[0].schema), Options{Strict: true})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// benchPrefixes returns matchers at a few typical positions: inside a
// free string, before a key, inside a number.
func benchPrefixes(tb testing.TB, g *Grammar) map[string]*Matcher {
	out := map[string]*Matcher{}
	for name, p := range map[string]string{
		"in-string":    `{"invoice_number":"INV-123456","issued":"2024-05-01","customer":{"name":"Ac`,
		"after-object": `{"invoice_number":"INV-123456","issued":"2024-05-01","customer":{"name":"Acme","email":"a@b.co","vat_id":null}`,
		"in-number":    `{"invoice_number":"INV-123456","issued":"2024-05-01","customer":{"name":"Acme","email":"a@b.co","vat_id":null},"lines":[{"sku":"ABC-123","description":"x","quantity":3,"unit_price":12`,
	} {
		m := g.NewMatcher()
		if !m.Advance([]byte(p)) {
			tb.Fatalf("prefix %s rejected", name)
		}
		out[name] = m
	}
	return out
}

func BenchmarkAllowedTokensGPT2(b *testing.B) {
	v := loadGPT2(b)
	g := benchSchema(b)
	for _, name := range []string{"in-string", "after-object", "in-number"} {
		m := benchPrefixes(b, g)[name]
		b.Run(name, func(b *testing.B) {
			dst := NewBitset(len(v.pieces))
			for b.Loop() {
				v.index.AllowedTokens(m, dst)
			}
			b.ReportMetric(float64(dst.Count()), "allowed")
		})
	}
}

func BenchmarkAllowsGPT2(b *testing.B) {
	v := loadGPT2(b)
	m := benchPrefixes(b, benchSchema(b))["in-string"]
	id, _ := v.index.lookup([]byte("ing"))
	for b.Loop() {
		if !v.index.Allows(m, id) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkAdvance(b *testing.B) {
	g := benchSchema(b)
	doc := []byte(`{"invoice_number":"INV-123456","issued":"2024-05-01","customer":{"name":"Acme Corporation","email":"billing@acme.example","vat_id":null},"lines":[{"sku":"ABC-123","description":"Widgets, blue","quantity":3,"unit_price":12.5},{"sku":"XYZ-999","description":"Shipping","quantity":1,"unit_price":7}],"currency":"EUR","paid":false}`)
	m := g.NewMatcher()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		m.Reset()
		if !m.Advance(doc) || !m.CanEnd() {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkCompileSchema(b *testing.B) {
	for b.Loop() {
		benchSchema(b)
	}
}

// lookup returns the id of the token spelled t.
func (v *VocabIndex) lookup(t []byte) (int32, bool) {
	for id, p := range v.tokens {
		if string(p) == string(t) {
			return int32(id), true
		}
	}
	return -1, false
}

// TestMaskLatencyGPT2 measures the full-mask time at every position of
// generated outputs (GPT-2 vocabulary, a few corpus schemas) and logs the
// mean, p50 and p99. It checks the mask against Allows on a sample of
// tokens.
func TestMaskLatencyGPT2(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing test: skipped with -short and -race")
	}
	v := loadGPT2(t)
	schemas := corpus()
	var times []time.Duration
	dst := NewBitset(len(v.pieces))
	r := rand.New(rand.NewPCG(3, 4))
	for i, cs := range schemas[:40] {
		g, err := CompileSchema([]byte(cs.schema), Options{Strict: cs.strict})
		if err != nil {
			t.Fatal(err)
		}
		res := drive(t, g, v, r, int64(i), 200, false)
		// Replay the output byte-token by token, timing the mask before
		// each token of the re-encoded text.
		m := g.NewMatcher()
		for _, id := range v.encode(res.out) {
			start := time.Now()
			v.index.AllowedTokens(m, dst)
			times = append(times, time.Since(start))
			if !dst.Has(id) {
				t.Fatalf("%s: mask excludes the next token %q after %d tokens", cs.name, v.pieces[id], len(times))
			}
			for range 20 {
				x := int32(r.IntN(len(v.pieces)))
				if dst.Has(x) != v.index.Allows(m, x) {
					t.Fatalf("mask and Allows disagree on %q", v.pieces[x])
				}
			}
			if !v.index.Accept(m, id) {
				t.Fatalf("token %q rejected", v.pieces[id])
			}
		}
	}
	slices.Sort(times)
	var sum time.Duration
	for _, d := range times {
		sum += d
	}
	n := len(times)
	t.Logf("full mask over the GPT-2 vocabulary at %d positions: mean %v, p50 %v, p99 %v, max %v",
		n, sum/time.Duration(n), times[n/2], times[n*99/100], times[n-1])
}
