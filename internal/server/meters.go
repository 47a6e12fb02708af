package server

import (
	"context"

	"github.com/cerulean-ai/cerulean/internal/gateway"
)

// meters hands each request's record to every meter: the usage ledger,
// the metrics, the request log.
type meters []gateway.Meter

func (ms meters) Record(ctx context.Context, r gateway.Record) {
	for _, m := range ms {
		m.Record(ctx, r)
	}
}
