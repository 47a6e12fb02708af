package pull

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a fake time source that advances step on every call.
type clock struct {
	t    time.Time
	step time.Duration
}

func (c *clock) now() time.Time {
	c.t = c.t.Add(c.step)
	return c.t
}

func TestProgress(t *testing.T) {
	tests := []struct {
		name     string
		terminal bool
		step     time.Duration
		total    int64
		resumed  int64
		adds     []int64
		want     string
	}{
		{
			name: "terminal redraws", terminal: true, step: time.Second, total: 4 << 20, adds: []int64{1 << 20, 1 << 20, 2 << 20},
			// Calls to now: start, then one per add, then finish.
			want: "\r   1.0 MiB / 4.0 MiB   25%     1.0 MiB/s  ETA 3s" +
				"\r   2.0 MiB / 4.0 MiB   50%     1.0 MiB/s  ETA 2s" +
				"\r   4.0 MiB / 4.0 MiB  100%     1.3 MiB/s  ETA 0s" +
				"\r   4.0 MiB / 4.0 MiB  100%     1.0 MiB/s  ETA 0s\n",
		},
		{
			name: "terminal at most 10 a second", terminal: true, step: 10 * time.Millisecond, total: 100, adds: []int64{10, 10, 10},
			want: "\r      30 B / 100 B   30%       750 B/s  ETA 0s\n",
		},
		{
			name: "log lines every 5s, resumed bytes not in the rate", step: 3 * time.Second, total: 3000, resumed: 1000, adds: []int64{600, 600, 800},
			want: "   2.1 KiB / 2.9 KiB   73%       200 B/s  ETA 4s\n" +
				"   2.9 KiB / 2.9 KiB  100%       166 B/s  ETA 0s\n",
		},
		{
			name: "unknown size", step: time.Second, total: -1, adds: []int64{2048},
			want: "   2.0 KiB      1.0 KiB/s\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sb strings.Builder
			c := &clock{step: tt.step}
			p := newProgress(&sb, tt.terminal, c.now)
			p.start(tt.total, tt.resumed)
			for _, n := range tt.adds {
				p.add(n)
			}
			p.finish()
			if diff := cmp.Diff(tt.want, sb.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
