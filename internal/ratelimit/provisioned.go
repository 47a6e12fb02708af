package ratelimit

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// provisioned is the utilization leaky bucket of a PTU deployment: level
// is the weighted tokens in the bucket, draining continuously at perMinute
// (PTUs × input TPM per PTU); utilization is level / perMinute. A request
// is refused only while utilization is over 100 %; otherwise its estimate
// goes in, even when that takes the bucket over 100 % (Azure tolerates
// small bursts), and the next requests wait until it drains back.
type provisioned struct {
	ptus      int
	perMinute float64 // drain rate and the level of 100 %
	weight    float64 // input tokens per output token
	level     float64
	at        time.Time // when level was last drained
}

// tolerance is the relative error of the level's float arithmetic that
// still counts as 100 %, so that a client retrying exactly after
// retry-after is admitted.
const tolerance = 1e-9

// drain empties the bucket up to t.
func (p *provisioned) drain(t time.Time) {
	if d := t.Sub(p.at); d > 0 {
		p.level = max(p.level-p.perMinute*d.Minutes(), 0)
		p.at = t
	}
}

func (p *provisioned) utilization(t time.Time) float64 {
	if p.perMinute <= 0 {
		return 0
	}
	p.drain(t)
	return p.level / p.perMinute
}

func (p *provisioned) idle(t time.Time) bool {
	p.drain(t)
	return p.level == 0
}

// configure applies the deployment's current PTUs and its version's PTU
// figures (defaults when the catalog gives none); the level drained so far
// keeps its old rate.
func (p *provisioned) configure(t inference.Target, now time.Time) {
	tpm, weight := DefaultInputTPMPerPTU, DefaultOutputWeight
	if s := t.Version.PTU; s != nil {
		tpm, weight = s.InputTPMPerPTU, s.OutputTokenWeight
		if weight <= 0 {
			weight = 1
		}
	}
	if p.at.IsZero() {
		p.at = now
	}
	p.drain(now)
	p.ptus = t.Capacity
	p.perMinute = float64(t.Capacity) * float64(max(tpm, 1))
	p.weight = weight
}

// weighted is the bucket charge of a usage: prompt tokens not served from
// the cache, plus completion tokens times the output weight.
func (p *provisioned) weighted(u inference.Usage) float64 {
	prompt := max(u.PromptTokens-u.Cached(), 0)
	return float64(prompt) + p.weight*float64(u.CompletionTokens)
}

// admitProvisioned adds e's estimate to l's bucket or refuses it (l.mu
// held). The estimate is prompt + weight × max output: cached tokens are
// unknown before the request runs, so they are deducted at settlement.
func (a *Admitter) admitProvisioned(l *limiter, e gateway.Estimate, now time.Time) (func(inference.Usage), error) {
	l.reset(provisionedKind)
	p := &l.ptu
	p.configure(e.Target, now)
	l.last = later(l.last, now)
	if p.level > p.perMinute*(1+tolerance) {
		setUtilization(e.Header, p.level/p.perMinute)
		over := (p.level - p.perMinute) / p.perMinute // minutes until 100 %
		return nil, overUtilized(e, p.level/p.perMinute, time.Duration(math.Round(over*float64(time.Minute))))
	}
	est := p.weighted(inference.Usage{PromptTokens: e.PromptTokens, CompletionTokens: a.estimatedOutput(e)})
	p.level += est
	setUtilization(e.Header, p.level/p.perMinute)
	return a.settler(l, func(now time.Time, u inference.Usage) {
		if l.kind != provisionedKind {
			return
		}
		l.ptu.drain(now)
		l.ptu.level = max(l.ptu.level+l.ptu.weighted(u)-est, 0)
	}), nil
}

// setUtilization sets azure-openai-deployment-utilization, e.g. "57.3%".
func setUtilization(h http.Header, u float64) {
	if h != nil {
		h.Set(utilizationHeader, fmt.Sprintf("%.1f%%", u*100))
	}
}

// overUtilized is the 429 of a provisioned deployment over 100 %. Its text
// keeps Azure's "Please retry after N seconds" sentence, which clients
// parse.
func overUtilized(e gateway.Estimate, u float64, d time.Duration) error {
	d = roundWait(d)
	msg := fmt.Sprintf("Requests to the %s Operation under Azure OpenAI API version %s have exceeded the provisioned throughput of this deployment (utilization %.1f%%). Please retry after %d seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the provisioned throughput.",
		operationID(e.Operation), apiVersion(e), u*100, seconds(d))
	return &fault.Error{Kind: fault.RateLimited, Code: "429", Message: msg, RetryAfter: d}
}
