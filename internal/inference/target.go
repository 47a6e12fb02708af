package inference

import "github.com/cerulean-ai/cerulean/internal/catalog"

// Target is where the gateway sends a request: the deployment it was
// addressed to and the catalog version that serves it.
type Target struct {
	Project    string
	Deployment string
	SKU        string
	Model      string // catalog model name
	Version    catalog.Version
	// Capacity is the deployment's capacity: K-TPM units for Standard
	// types, PTUs for provisioned types, replicas for managed compute.
	Capacity int
}
