package store

import (
	"context"

	"github.com/cerulean-ai/cerulean/internal/hub"
)

// ComputeStore keeps each hub's compute catalog: the instance types the
// replicas of its ManagedCompute deployments run on. A new hub starts with
// hub.DefaultInstanceTypes.
type ComputeStore interface {
	// ListInstanceTypes returns the hub's instance types in the order they
	// were added (the first is the default); HubNotFound for a missing hub.
	ListInstanceTypes(ctx context.Context, hubName string) ([]hub.InstanceType, error)
	// PutInstanceType adds the instance type (last) or replaces the one of
	// that name, keeping its place; created reports which.
	PutInstanceType(ctx context.Context, hubName string, it hub.InstanceType) (created bool, err error)
}
