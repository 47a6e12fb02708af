package pull

import (
	"fmt"
	"io"
	"time"
)

// Intervals between progress updates: a terminal line is redrawn at most
// ten times a second; a log (not a terminal) gets a line every few seconds.
const (
	redrawEvery = 100 * time.Millisecond
	logEvery    = 5 * time.Second
)

// progress reports a download on w: bytes, percent, rate and ETA. On a
// terminal it redraws one line with \r; elsewhere it writes whole lines.
type progress struct {
	w        io.Writer
	terminal bool
	now      func() time.Time

	total   int64 // -1 when unknown
	resumed int64 // bytes that were already there
	done    int64 // bytes there now, resumed included
	began   time.Time
	last    time.Time
	width   int // length of the last terminal line, to blank leftovers
}

func newProgress(w io.Writer, terminal bool, now func() time.Time) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w, terminal: terminal, now: now, total: -1}
}

// start begins a transfer of total bytes (-1 if unknown), of which resumed
// are already on disk.
func (p *progress) start(total, resumed int64) {
	p.total, p.resumed, p.done = total, resumed, resumed
	p.began = p.now()
	p.last = p.began
}

// add records n more bytes and draws if it is time to.
func (p *progress) add(n int64) {
	p.done += n
	now := p.now()
	every := logEvery
	if p.terminal {
		every = redrawEvery
	}
	if now.Sub(p.last) >= every {
		p.last = now
		p.draw(now, false)
	}
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	p.draw(p.now(), true)
}

func (p *progress) draw(now time.Time, final bool) {
	line := p.line(now)
	if !p.terminal {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = fmt.Sprintf("%*s", n, "")
	}
	p.width = len(line)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r%s%s%s", line, pad, end)
}

// line formats the current state, e.g.
// "  45.2 MiB / 138.7 MiB   32%   12.3 MiB/s   ETA 8s".
func (p *progress) line(now time.Time) string {
	elapsed := now.Sub(p.began)
	var rate float64
	if elapsed > 0 {
		rate = float64(p.done-p.resumed) / elapsed.Seconds()
	}
	if p.total < 0 {
		return fmt.Sprintf("%10s   %10s/s", size(p.done), size(int64(rate)))
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	eta := "-"
	switch {
	case p.done >= p.total:
		eta = "0s"
	case rate > 0:
		eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("%10s / %s  %3.0f%%  %10s/s  ETA %s", size(p.done), size(p.total), pct, size(int64(rate)), eta)
}

// size formats n bytes with a binary unit.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
