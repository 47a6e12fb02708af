// Package quota checks a hub's capacity for a model and deployment type
// against what its deployments already hold.
package quota

import (
	"strconv"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// UsageName is how Azure names a quota: "Tokens Per Minute (thousands) - M"
// for Standard types, and so on.
func UsageName(model, sku string) string {
	switch sku {
	case "ProvisionedManaged", "GlobalProvisionedManaged", "DataZoneProvisionedManaged":
		return "Provisioned Throughput Units - " + sku
	case "ManagedCompute":
		return "Replicas - " + model
	case "GlobalBatch", "DataZoneBatch":
		return "Enqueued Tokens (thousands) - " + model
	}
	return "Tokens Per Minute (thousands) - " + model + " (" + sku + ")"
}

// Check returns an InsufficientQuota error when requested does not fit in
// limit − used.
func Check(model, sku string, limit, used, requested int) error {
	available := max(limit-used, 0)
	if requested > available {
		return &fault.Error{Kind: fault.QuotaExceeded, Code: "InsufficientQuota", Param: "sku.capacity",
			Message: "The specified capacity '" + strconv.Itoa(requested) + "' of account deployment is bigger than available capacity '" +
				strconv.Itoa(available) + "' for UsageName '" + UsageName(model, sku) + "'."}
	}
	return nil
}
