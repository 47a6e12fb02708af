// Package metering is Cerulean's usage ledger, capacity accrual, prices
// and usage reports.
//
// # The ledger
//
// Ledger is the gateway's Meter. Record turns nothing away: it puts the
// request's record on a bounded queue (QueueSize, default 4096) and
// returns. A worker, Run, writes queued records in batches, one
// transaction each: a batch is written when it holds BatchSize records
// (default 500) or FlushEvery (default 200 ms) after its first record
// arrived, whichever comes first. Each record is keyed by its request id
// and the store skips a record it already holds, so a retried or repeated
// write never counts twice. (Two different requests that sent the same
// client request id are both kept: see store.UsageStore.RecordUsage.)
//
// When the queue stays full for FullWait (default 20 ms) — the store is
// slower than the traffic, or failing — Record writes its record itself,
// synchronously, in the request's goroutine: back-pressure instead of a
// silent drop. A failed batch is kept and retried with a backoff from
// FlushEvery to 5 s; while it fails the worker stops taking records once
// it holds QueueSize of them, so Record falls back to synchronous writes.
// A record that still cannot be written after three attempts on a
// synchronous or final write is logged at level ERROR with its request
// id, project, deployment and tokens ("usage record lost") and counted in
// Stats().Lost: a loss is never silent.
//
// When Run's context is cancelled it stops taking records into the queue
// (from then on Record writes synchronously), writes everything queued
// and returns. Flush writes what is queued and waits for the commit.
//
// # The loss window
//
// A graceful shutdown (SIGTERM: the server drains requests, then cancels
// Run) loses nothing. A crash (SIGKILL, panic, power cut) loses the
// records that were queued but not committed: those of requests that
// ended at most FlushEvery plus one commit before the crash (about
// 200 ms plus a few ms), and never more than QueueSize + BatchSize
// records. The response of a non-streamed request reaches the client
// only after its record was queued, so "got a 200 and has no record"
// is exactly that window. crash_test.go measures it by SIGKILLing a
// server under load (8 clients, fake backend, 2 shared cores): at
// 8,000-10,000 requests/s batches fill to 500 records in about 50 ms,
// and 58-308 answered requests (all answered 7-28 ms before the kill)
// had no record; under the race detector (about 1,000 requests/s, each
// commit ten times slower) 660-760 requests answered up to 580-750 ms
// before the kill. At low load a record waits up to FlushEvery (200 ms)
// before its commit. Nothing was ever counted twice, and a restart plus
// a graceful stop lost nothing. A commit in SQLite's WAL mode survives a process
// crash; with synchronous=NORMAL the last commits before an operating
// system crash or power cut may also be lost.
//
// # Capacity
//
// Accrual accrues reserved capacity once per minute and deployment:
// Succeeded provisioned deployments accrue capacity PTU-minutes,
// ManagedCompute ones capacity replica-minutes, stored as integers so
// that sums are exact; reports show them as hours. Each (deployment,
// minute) is stored once, so a restart never accrues twice.
//
// # Prices and reports
//
// A hub's price sheet overrides the catalog's prices per model (and
// optionally version) and prices replica-hours per instance type (Cost,
// PriceBook). BuildReport adds the usage of a project or hub up by
// deployment, key, model, day, SKU or project and prices it.
package metering
