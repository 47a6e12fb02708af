package store

import (
	"context"
	"time"
)

// UsageStore is the usage ledger (one record per request, idempotent on
// request id), the capacity accruals (PTU-hours and replica-hours, one row
// per deployment and minute), the hubs' price sheets, and the sums the
// usage reports are built from.
type UsageStore interface {
	// RecordUsage writes records in one transaction and returns how many
	// were new. A record whose request id is already stored with the same
	// content (its Fingerprint) is skipped, so a retried or duplicated
	// write never counts twice; a record that shares its request id with
	// a different stored record (two requests that sent the same client
	// request id) is stored under a derived id, so neither is lost.
	RecordUsage(ctx context.Context, recs []UsageRecord) (int, error)
	// ListUsage returns the records f selects, oldest first.
	ListUsage(ctx context.Context, f UsageFilter) ([]UsageRecord, error)

	// AccrueUsage writes accruals in one transaction and returns how many
	// were new; one already stored for the same (project, deployment,
	// minute) is skipped.
	AccrueUsage(ctx context.Context, accs []Accrual) (int, error)

	// UsageSums adds up the records and accruals q selects, in one row per
	// (group, model, version, sku, instance type), sorted by those.
	UsageSums(ctx context.Context, q UsageQuery) ([]UsageSum, error)

	// GetPriceSheet returns a hub's price sheet (empty when none was set),
	// or ErrNotFound when the hub does not exist.
	GetPriceSheet(ctx context.Context, hubName string) (PriceSheet, error)
	// PutPriceSheet replaces a hub's price sheet.
	PutPriceSheet(ctx context.Context, ps PriceSheet) error
}

// UsageRecord is what one request consumed. It names the key by its id,
// never the key itself.
type UsageRecord struct {
	RequestID        string
	Time             time.Time // when the request arrived
	Hub              string    // the project's hub when the record was made; "" when unknown
	Project          string
	KeyID            string
	Deployment       string
	Model            string
	Version          string
	SKU              string
	Operation        string // chat, completion, embedding
	PromptTokens     int    // including CachedTokens
	CompletionTokens int
	CachedTokens     int
	LatencyMS        int64
	TTFTMS           int64 // time to first token
	Status           int   // HTTP status sent
	Stream           bool
}

// UsageFilter selects usage records. Empty fields select everything.
type UsageFilter struct {
	Hub       string
	Project   string
	RequestID string
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	Limit     int       // 0: no limit
}

// Accrual is the capacity a deployment held during one minute, in
// capacity-minutes (integers, so that sums are exact): PTU-hours are
// PTUMinutes/60 and replica-hours ReplicaMinutes/60.
type Accrual struct {
	Hub            string
	Project        string
	Deployment     string
	Model          string
	Version        string
	SKU            string
	InstanceType   string    // the replicas' instance type, for ManagedCompute
	Minute         time.Time // the start of the minute
	PTUMinutes     int
	ReplicaMinutes int
}

// Groupings of a usage query.
const (
	ByDeployment = "deployment"
	ByKey        = "key"
	ByModel      = "model"
	ByDay        = "day"
	BySKU        = "sku"
	ByProject    = "project"
)

// UsageQuery selects what a usage report adds up: the records and
// accruals of one hub or one project in [Since, Until), grouped by By.
//
// Groups: ByDeployment is the deployment name (project/deployment in a hub
// query), ByKey the key id ("" for accruals, which no key made), ByModel
// the model name, ByDay the UTC date (YYYY-MM-DD), BySKU the deployment
// type, ByProject the project.
type UsageQuery struct {
	Hub     string // exactly one of Hub and Project is set
	Project string
	Since   time.Time
	Until   time.Time
	By      string
}

// UsageSum is the usage of one group for one model version, SKU and
// instance type.
type UsageSum struct {
	Group            string
	Model            string
	Version          string
	SKU              string
	InstanceType     string
	Requests         int64
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	Errors           int64 // status >= 400
	Throttled        int64 // status 429
	PTUMinutes       int64
	ReplicaMinutes   int64
}

// PriceSheet is a hub's prices. A model price replaces the catalog's
// prices of that model (of one version, or of every version when Version
// is ""); instance prices are per replica-hour of an instance type.
type PriceSheet struct {
	Hub       string
	Models    []ModelPrice
	Instances []InstancePrice
}

// ModelPrice is a hub's price of a model, per 1,000 tokens and per
// PTU-hour. A zero CachedInputPer1K means cached tokens cost the input
// price.
type ModelPrice struct {
	Model            string
	Version          string // "" for every version
	InputPer1K       float64
	OutputPer1K      float64
	CachedInputPer1K float64
	PTUHour          float64
}

// InstancePrice is the price of one replica-hour of an instance type.
type InstancePrice struct {
	Name    string
	PerHour float64
}
