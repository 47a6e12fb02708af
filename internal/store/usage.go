package store

// UsageStore is the usage ledger (one record per request, idempotent on request id), price sheets and the usage reports built from them.
type UsageStore interface {
}
