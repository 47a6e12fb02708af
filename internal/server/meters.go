package server

import (
	"context"
	"time"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/metrics"
)

// meters hands each request's record to every meter: the usage ledger,
// the metrics, the request log.
type meters []gateway.Meter

func (ms meters) Record(ctx context.Context, r gateway.Record) {
	for _, m := range ms {
		m.Record(ctx, r)
	}
}

// ptuUtilization reports each provisioned deployment's utilization (1 is
// 100 % of its purchased throughput) at each scrape.
func ptuUtilization(st interface {
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error)
}, adm interface {
	Utilization(project, deployment string) (float64, bool)
}) func() []metrics.Sample {
	return func() []metrics.Sample {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ds, err := st.ListDeployments(ctx, "")
		if err != nil {
			return nil
		}
		var out []metrics.Sample
		for _, d := range ds {
			if !deployment.IsProvisioned(d.SKU) {
				continue
			}
			u, _ := adm.Utilization(d.Project, d.Name)
			out = append(out, metrics.Sample{Project: d.Project, Deployment: d.Name, Model: d.Model, SKU: d.SKU, Value: u})
		}
		return out
	}
}
