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
}
