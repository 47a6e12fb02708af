package studio

import (
	"encoding/csv"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestUsageCSV(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	resp, body := h.get("/studio/projects/default/usage?days=7&format=csv")
	wantStatus(t, resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 || rows[0][0] != "day" {
		t.Fatalf("%d rows (want a header and 7 days):\n%s", len(rows), body)
	}
	want := []string{"2024-12-30", "40", "4000", "1500", "0", "5500", "0", "0", "0.00425", "3", "2"}
	if !reflect.DeepEqual(rows[4], want) {
		t.Errorf("row of 2024-12-30: %v, want %v", rows[4], want)
	}
	if rows[1][0] != "2024-12-27" || rows[7][0] != "2025-01-02" || rows[2][1] != "0" {
		t.Errorf("days are not filled from 2024-12-27 to 2025-01-02 with zeros: %v", rows)
	}
}

func TestUsageDisabledWhenTheServerHasNoUsageAPI(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	h.fake.srv.Config.Handler = withoutUsage(h.fake.srv.Config.Handler)
	resp, body := h.get("/studio/projects/default/usage")
	wantStatus(t, resp, body, http.StatusOK)
	wantContains(t, body, `id="usage-disabled"`)
	resp, body = h.get("/studio/projects/default/usage?format=csv")
	wantStatus(t, resp, body, http.StatusNotFound)
}

func withoutUsage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/usage") {
			fakeErr(w, http.StatusNotFound, "NotFound", "", "there is no management route")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestNiceTicks(t *testing.T) {
	cases := []struct {
		top  float64
		want []float64
	}{
		{0, []float64{0, 0.25, 0.5, 0.75, 1}},
		{40, []float64{0, 10, 20, 30, 40}},
		{41, []float64{0, 20, 40, 60}},
		{5500, []float64{0, 2000, 4000, 6000}},
		{0.00425, []float64{0, 0.002, 0.004, 0.006}},
	}
	for _, c := range cases {
		got := niceTicks(c.top, 4)
		if len(got) != len(c.want) {
			t.Errorf("niceTicks(%v) = %v, want %v", c.top, got, c.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("niceTicks(%v) = %v, want %v", c.top, got, c.want)
				break
			}
		}
	}
}

func TestChartSVG(t *testing.T) {
	c := Chart{ID: "c1", Title: `Tokens <per> "day"`, Desc: "a & b", Kind: "bar", Unit: "tokens",
		Labels: []string{"01-01", "01-02", "01-03"},
		Series: []Series{{Name: "prompt", Values: []float64{10, 0, 35}}, {Name: "completion", Values: []float64{5, 2, math.NaN()}}}}
	svg := string(c.SVG())
	for _, s := range []string{`role="img"`, `aria-labelledby="c1-title c1-desc"`, `<title id="c1-title">Tokens &lt;per&gt; &#34;day&#34;</title>`,
		`<desc id="c1-desc">a &amp; b</desc>`, `>40</text>`, `<title>01-03: 35</title>`, `class="legend"`} {
		if !strings.Contains(svg, s) {
			t.Errorf("SVG lacks %q:\n%s", s, svg)
		}
	}
	if n := strings.Count(svg, "<rect x="); n != 5 {
		t.Errorf("%d bars, want 5 (NaN skipped)", n)
	}
	c.Kind = "line"
	golden(t, "chart_line.svg", string(c.SVG()))
	empty := string(Chart{ID: "e", Title: "nothing"}.SVG())
	if !strings.Contains(empty, "no data") {
		t.Errorf("an empty chart says nothing:\n%s", empty)
	}
}

func TestValidateSchema(t *testing.T) {
	schema := map[string]any{"type": "object", "required": []any{"a"}, "additionalProperties": false,
		"properties": map[string]any{"a": map[string]any{"type": "integer"}, "b": map[string]any{"type": "array", "items": map[string]any{"enum": []any{"x", "y"}}}}}
	ok := []any{map[string]any{"a": 1.0}, map[string]any{"a": 2.0, "b": []any{"x", "y"}}}
	bad := []any{map[string]any{}, map[string]any{"a": 1.5}, map[string]any{"a": 1.0, "c": 1.0}, map[string]any{"a": 1.0, "b": []any{"z"}}, "str"}
	for _, v := range ok {
		if err := validateSchema(schema, v, "$"); err != nil {
			t.Errorf("%v: %v", v, err)
		}
	}
	for _, v := range bad {
		if err := validateSchema(schema, v, "$"); err == nil {
			t.Errorf("%v passed", v)
		}
	}
}
