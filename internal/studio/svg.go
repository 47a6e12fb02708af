package studio

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Chart is a small chart drawn as SVG on the server: a y axis with nice
// ticks, x labels, and line or bar series. It is an image with a title
// and description for screen readers; the numbers are also in a table on
// the same page.
type Chart struct {
	ID     string // unique on the page; prefixes the title and desc ids
	Title  string
	Desc   string
	Kind   string   // "line" (default) or "bar"
	Labels []string // one per point, along the x axis
	Series []Series
	Unit   string // shown on the y axis, e.g. "tokens" or "$"
	Width  int    // the viewBox; 0 means 640 × 240
	Height int
}

// Series is one named line or set of bars.
type Series struct {
	Name   string
	Values []float64
}

// chart geometry: margins around the plot area.
const (
	marginLeft   = 64
	marginRight  = 16
	marginTop    = 16
	marginBottom = 44
)

// niceTicks returns about n evenly spaced round tick values from 0 to at
// least top.
func niceTicks(top float64, n int) []float64 {
	if top <= 0 || math.IsNaN(top) || math.IsInf(top, 0) {
		top = 1
	}
	raw := top / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for v := 0.0; ; v += step {
		ticks = append(ticks, v)
		if v >= top-step*1e-9 {
			break
		}
	}
	return ticks
}

// tickLabel formats a tick: short forms for large numbers.
func tickLabel(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// f1 formats a coordinate with one decimal.
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// SVG draws the chart. Every text is escaped.
func (c Chart) SVG() template.HTML {
	w, h := c.Width, c.Height
	if w <= 0 || h <= 0 {
		w, h = 640, 240
	}
	esc := template.HTMLEscapeString
	id := esc(c.ID)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">`, w, h, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(c.Title), id, esc(c.Desc))

	top := 0.0
	n := len(c.Labels)
	for _, s := range c.Series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			if v > top && !math.IsInf(v, 0) {
				top = v
			}
		}
	}
	ticks := niceTicks(top, 4)
	ymax := ticks[len(ticks)-1]
	pw, ph := float64(w-marginLeft-marginRight), float64(h-marginTop-marginBottom)
	y := func(v float64) float64 { return float64(marginTop) + ph - v/ymax*ph }

	// Grid and y ticks.
	b.WriteString(`<g class="axis y">`)
	for _, t := range ticks {
		yy := f1(y(t))
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%s" y2="%s"/>`, marginLeft, w-marginRight, yy, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`, marginLeft-6, yy, esc(tickLabel(t)))
	}
	if c.Unit != "" {
		fmt.Fprintf(&b, `<text class="unit" x="%d" y="%d">%s</text>`, 4, marginTop-4, esc(c.Unit))
	}
	b.WriteString(`</g>`)
	fmt.Fprintf(&b, `<line class="axis-line" x1="%d" x2="%d" y1="%s" y2="%s"/>`, marginLeft, w-marginRight, f1(y(0)), f1(y(0)))

	if n == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" text-anchor="middle">no data</text></svg>`, w/2, h/2)
		return template.HTML(b.String())
	}
	slot := pw / float64(n)
	x := func(i int) float64 { return float64(marginLeft) + slot*(float64(i)+0.5) }

	// X labels: at most about 6.
	every := max(1, (n+5)/6)
	b.WriteString(`<g class="axis x">`)
	for i := 0; i < n; i += every {
		if i < len(c.Labels) {
			fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`, f1(x(i)), h-marginBottom+16, esc(c.Labels[i]))
		}
	}
	b.WriteString(`</g>`)

	for si, s := range c.Series {
		fmt.Fprintf(&b, `<g class="series s%d"><title>%s</title>`, si%6, esc(s.Name))
		if c.Kind == "bar" {
			bw := slot * 0.8 / float64(len(c.Series))
			for i, v := range s.Values {
				if math.IsNaN(v) || v < 0 {
					continue
				}
				x0 := x(i) - slot*0.4 + bw*float64(si)
				fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s"><title>%s: %s</title></rect>`,
					f1(x0), f1(y(v)), f1(bw), f1(y(0)-y(v)), esc(label(c.Labels, i)), esc(tickLabel(v)))
			}
		} else {
			var pts []string
			for i, v := range s.Values {
				if !math.IsNaN(v) {
					pts = append(pts, f1(x(i))+","+f1(y(v)))
				}
			}
			fmt.Fprintf(&b, `<polyline fill="none" points="%s"/>`, strings.Join(pts, " "))
			for i, v := range s.Values {
				if !math.IsNaN(v) {
					fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.5"><title>%s: %s</title></circle>`, f1(x(i)), f1(y(v)), esc(label(c.Labels, i)), esc(tickLabel(v)))
				}
			}
		}
		b.WriteString(`</g>`)
	}
	// Legend.
	if len(c.Series) > 1 {
		b.WriteString(`<g class="legend">`)
		lx := marginLeft
		for si, s := range c.Series {
			fmt.Fprintf(&b, `<rect class="s%d" x="%d" y="%d" width="10" height="10"/><text x="%d" y="%d">%s</text>`,
				si%6, lx, h-14, lx+14, h-5, esc(s.Name))
			lx += 24 + 7*len(s.Name)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func label(labels []string, i int) string {
	if i < len(labels) {
		return labels[i]
	}
	return strconv.Itoa(i + 1)
}

// Bar is a budget's progress bar drawn as SVG: the spend as a filled
// share of the amount, with a mark at each threshold. The scale reaches
// 100% or the highest threshold; spend beyond it fills the whole bar. It
// is an image labelled with the numbers, which the page also prints.
type Bar struct {
	ID      string
	Percent float64   // spend as a percent of the amount
	Marks   []float64 // thresholds, percents of the amount
	State   string    // "ok", "warn" or "over": the fill's class
	Label   string
}

// barWidth is the bar's viewBox width; it stretches to its box.
const barWidth = 400

// SVG draws the bar. Every text is escaped.
func (b Bar) SVG() template.HTML {
	esc := template.HTMLEscapeString
	scale := 100.0
	for _, m := range b.Marks {
		scale = max(scale, m)
	}
	x := func(p float64) float64 { return min(max(p, 0), scale) / scale * barWidth }
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="bar" id="%s" viewBox="0 0 %d 16" preserveAspectRatio="none" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		esc(b.ID), barWidth, esc(b.Label))
	fmt.Fprintf(&s, `<rect class="track" x="0" y="0" width="%d" height="16"/>`, barWidth)
	fmt.Fprintf(&s, `<rect class="fill %s" x="0" y="0" width="%s" height="16"/>`, esc(b.State), f1(x(b.Percent)))
	for _, m := range b.Marks {
		xx := f1(min(x(m), barWidth-1))
		fmt.Fprintf(&s, `<line class="mark" x1="%s" x2="%s" y1="0" y2="16" vector-effect="non-scaling-stroke"><title>%s%%</title></line>`,
			xx, xx, esc(strconv.FormatFloat(m, 'f', -1, 64)))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String())
}
