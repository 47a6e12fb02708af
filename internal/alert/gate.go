package alert

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// CodeBudgetExceeded is the code of the 429 a hard budget's requests get.
const CodeBudgetExceeded = "budget_exceeded"

// Block is why a project's requests are refused: a hard budget (of the
// project or of its hub) spent in the period that ends at Until.
type Block struct {
	Owner  string // "project p1" or "hub h1"
	Budget string
	Amount float64
	Spend  float64
	Period string
	Until  time.Time
}

// Blocks is the set of projects whose requests a hard budget stops. The
// Evaluator replaces it after each evaluation; BudgetGate reads it. Its
// zero value blocks nothing and is ready to use.
type Blocks struct {
	m atomic.Pointer[map[string]Block]
}

// Set replaces the set with m (which the caller must no longer change).
func (b *Blocks) Set(m map[string]Block) { b.m.Store(&m) }

// Get returns the block of project, if any.
func (b *Blocks) Get(project string) (Block, bool) {
	p := b.m.Load()
	if p == nil {
		return Block{}, false
	}
	blk, ok := (*p)[project]
	return blk, ok
}

// Len is the number of blocked projects.
func (b *Blocks) Len() int {
	p := b.m.Load()
	if p == nil {
		return 0
	}
	return len(*p)
}

// BudgetGate is an Admitter that refuses the requests of projects a hard
// budget blocks, with 429 budget_exceeded, and hands every other request
// to Next (nil admits it).
type BudgetGate struct {
	Next   gateway.Admitter
	Blocks *Blocks          // nil blocks nothing
	Now    func() time.Time // nil means time.Now
}

var _ gateway.Admitter = (*BudgetGate)(nil)

// Admit implements gateway.Admitter.
func (g *BudgetGate) Admit(ctx context.Context, e gateway.Estimate) (func(inference.Usage), error) {
	if g.Blocks != nil {
		if b, ok := g.Blocks.Get(e.Caller.Project); ok {
			now := time.Now()
			if g.Now != nil {
				now = g.Now()
			}
			if now.Before(b.Until) {
				return nil, blocked(e.Caller.Project, b, now)
			}
		}
	}
	if g.Next == nil {
		return func(inference.Usage) {}, nil
	}
	return g.Next.Admit(ctx, e)
}

// blocked is the error of a request a block refuses.
func blocked(project string, b Block, now time.Time) error {
	f := fault.New(fault.RateLimited, CodeBudgetExceeded,
		"Project %s has reached the hard budget %q of %s: spent %s of %s in %s. Requests are refused until the budget is raised or the month ends (%s UTC).",
		project, b.Budget, b.Owner, money(b.Spend), money(b.Amount), b.Period, b.Until.UTC().Format("2006-01-02 15:04"))
	f.RetryAfter = b.Until.Sub(now)
	return f
}
