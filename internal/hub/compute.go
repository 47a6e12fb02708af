package hub

import (
	"regexp"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// InstanceType is one size of machine in a hub's compute catalog: what
// each replica of a ManagedCompute deployment of that type gets, and what
// one replica-hour of it costs.
type InstanceType struct {
	Name         string
	Threads      int     // engine threads of each replica
	MemoryMB     int     // memory of each replica (a Kubernetes limit)
	PricePerHour float64 // per replica-hour
}

// DefaultInstanceTypes are the instance types a new hub gets; the first is
// the default of deployments that name none.
func DefaultInstanceTypes() []InstanceType {
	return []InstanceType{
		{Name: "cpu-2", Threads: 2, MemoryMB: 4096, PricePerHour: 0.10},
		{Name: "cpu-4", Threads: 4, MemoryMB: 8192, PricePerHour: 0.20},
	}
}

// instanceTypeRE is what an instance type name may be: a letter or digit,
// then up to 62 letters, digits, '-', '_' or '.'.
var instanceTypeRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$`)

// Validate checks an instance type.
func (it *InstanceType) Validate() error {
	if !instanceTypeRE.MatchString(it.Name) {
		return fault.Param("name", "invalidPayload",
			"instance type name %q is invalid: use 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit", it.Name)
	}
	if it.Threads < 1 || it.Threads > 1024 {
		return fault.Param("threads", "invalidPayload", "threads must be 1 to 1024, got %d", it.Threads)
	}
	if it.MemoryMB < 64 {
		return fault.Param("memoryMB", "invalidPayload", "memoryMB must be at least 64, got %d", it.MemoryMB)
	}
	if it.PricePerHour < 0 {
		return fault.Param("pricePerHour", "invalidPayload", "pricePerHour must be 0 or more, got %g", it.PricePerHour)
	}
	return nil
}
