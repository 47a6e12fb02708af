package api

import (
	"context"
	"net/http"
)

// InstanceType is one size of replica in a hub's compute catalog, for
// ManagedCompute deployments.
type InstanceType struct {
	Name         string  `json:"name"`
	Threads      int     `json:"threads"`
	MemoryMB     int     `json:"memoryMB"`
	PricePerHour float64 `json:"pricePerHour"` // per replica-hour
}

// ListInstanceTypes lists a hub's instance types; the first is the default
// of ManagedCompute deployments that name none.
func (c *Client) ListInstanceTypes(ctx context.Context, hub string) ([]InstanceType, error) {
	return list[InstanceType](ctx, c, apiPath("hubs", hub, "instance-types"))
}

// PutInstanceType adds an instance type to a hub's compute catalog, or
// replaces the one of that name.
func (c *Client) PutInstanceType(ctx context.Context, hub string, it InstanceType) (InstanceType, error) {
	var out InstanceType
	err := c.do(ctx, http.MethodPut, apiPath("hubs", hub, "instance-types", it.Name), it, &out)
	return out, err
}
