// Package deployment is a named, callable instance of one model version in
// a project: its type (SKU), capacity, state and policies.
package deployment

import (
	"regexp"
	"slices"
	"time"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
)

// States, as Azure's provisioningState.
const (
	Creating  = "Creating"
	Succeeded = "Succeeded"
	Failed    = "Failed"
	Deleting  = "Deleting"
)

// Version upgrade options.
const (
	OnceNewDefaultVersionAvailable = "OnceNewDefaultVersionAvailable"
	OnceCurrentVersionExpired      = "OnceCurrentVersionExpired"
	NoAutoUpgrade                  = "NoAutoUpgrade"
)

// DefaultRAIPolicy is the content filter a deployment gets unless told.
const DefaultRAIPolicy = "Microsoft.Default"

// Deployment is the desired and observed state of one deployment.
type Deployment struct {
	Project              string
	Name                 string
	Model                string
	Version              string
	SKU                  string
	Capacity             int
	VersionUpgradeOption string
	RAIPolicy            string
	// InstanceType is the hub instance type each replica of a
	// ManagedCompute deployment runs on; "" for every other type.
	InstanceType string
	// ScaleToZero lets a ManagedCompute deployment at capacity 0 start one
	// replica on its first request (a cold start) instead of refusing it.
	ScaleToZero bool
	State       string
	Reason      string // why Failed
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Deployment names in Azure: 2–64 letters, digits, '-', '_' and '.'.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$`)

// ValidateName checks a deployment name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fault.Param("name", "invalidPayload",
			"deployment name %q is invalid: use 2 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit", name)
	}
	return nil
}

// Validate checks a deployment against its model version and fills
// defaults (version, policies, capacity).
func (d *Deployment) Validate(m *catalog.Model) error {
	if err := ValidateName(d.Name); err != nil {
		return err
	}
	if d.SKU == "" {
		d.SKU = "Standard"
	}
	if !slices.Contains(catalog.SKUs, d.SKU) {
		return fault.Param("sku.name", "invalidPayload", "deployment type %q is unknown: want one of %v", d.SKU, catalog.SKUs)
	}
	if d.Version == "" {
		d.Version = m.DefaultVersion
	}
	v, ok := m.Version(d.Version)
	if !ok {
		return fault.Param("model.version", "invalidPayload", "model %q has no version %q", m.Name, d.Version)
	}
	if !v.Allows(d.SKU) {
		return fault.Param("sku.name", "invalidPayload", "model %q version %q cannot be deployed as %s: it allows %v", m.Name, v.Version, d.SKU, v.SKUs)
	}
	if v.Lifecycle == catalog.Deprecated || v.Retired(time.Now()) {
		return fault.Param("model.version", "invalidPayload", "model %q version %q is deprecated and takes no new deployments", m.Name, v.Version)
	}
	ptu := v.PTU
	if !IsProvisioned(d.SKU) {
		ptu = nil
	}
	managed := IsManagedCompute(d.SKU)
	if managed && d.InstanceType == "" {
		return fault.Param("properties.instanceType", "invalidPayload", "a %s deployment needs an instance type, e.g. cpu-2", d.SKU)
	}
	if !managed && d.InstanceType != "" {
		return fault.Param("properties.instanceType", "invalidPayload", "instance type %q is for ManagedCompute deployments, not %s", d.InstanceType, d.SKU)
	}
	if !managed && d.ScaleToZero {
		return fault.Param("properties.scaleToZero", "invalidPayload", "scale to zero is for ManagedCompute deployments, not %s", d.SKU)
	}
	// A ManagedCompute capacity is a replica count, and 0 replicas is a
	// deployment scaled to zero, not a missing capacity.
	if d.Capacity == 0 && !managed {
		d.Capacity = 1
		if ptu != nil {
			d.Capacity = ptu.Minimum
		}
	}
	if d.Capacity < 0 {
		return fault.Param("sku.capacity", "invalidPayload", "capacity must be 1 or more (0 or more replicas for ManagedCompute), got %d", d.Capacity)
	}
	// Sizes are Minimum + n×Step: the same as "a multiple of Step, at least
	// Minimum" when Minimum is a multiple of Step, and right for models
	// sold as 25, 75, 125... (minimum 25, step 50).
	if ptu != nil && (d.Capacity < ptu.Minimum || (d.Capacity-ptu.Minimum)%ptu.Step != 0) {
		return fault.Param("sku.capacity", "invalidPayload",
			"model %q version %q is provisioned in units of %d PTUs from a minimum of %d: capacity %d is not one of %d, %d, %d, ...",
			m.Name, v.Version, ptu.Step, ptu.Minimum, d.Capacity, ptu.Minimum, ptu.Minimum+ptu.Step, ptu.Minimum+2*ptu.Step)
	}
	switch d.VersionUpgradeOption {
	case "":
		d.VersionUpgradeOption = OnceNewDefaultVersionAvailable
	case OnceNewDefaultVersionAvailable, OnceCurrentVersionExpired, NoAutoUpgrade:
	default:
		return fault.Param("versionUpgradeOption", "invalidPayload", "versionUpgradeOption %q is unknown: want %s, %s or %s",
			d.VersionUpgradeOption, OnceNewDefaultVersionAvailable, OnceCurrentVersionExpired, NoAutoUpgrade)
	}
	if d.RAIPolicy == "" {
		d.RAIPolicy = DefaultRAIPolicy
	}
	return nil
}

// RateLimit is one derived limit, as Azure shows it.
type RateLimit struct {
	Key           string `json:"key"`
	RenewalPeriod int    `json:"renewalPeriod"` // seconds
	Count         int    `json:"count"`
}

// IsStandard reports whether the SKU is pay-per-token with a TPM capacity.
func IsStandard(sku string) bool {
	switch sku {
	case "Standard", "GlobalStandard", "DataZoneStandard", "Developer":
		return true
	}
	return false
}

// IsProvisioned reports whether the SKU is billed per PTU with a PTU
// capacity.
func IsProvisioned(sku string) bool {
	switch sku {
	case "ProvisionedManaged", "GlobalProvisionedManaged", "DataZoneProvisionedManaged":
		return true
	}
	return false
}

// ManagedCompute is the SKU of deployments served by dedicated replicas.
const ManagedCompute = "ManagedCompute"

// IsManagedCompute reports whether the SKU is served by dedicated
// replicas of an instance type, with a replica count as capacity.
func IsManagedCompute(sku string) bool { return sku == ManagedCompute }

// RateLimits derives the limits of a Standard deployment: 1 request per 10 s
// and 1,000 tokens per 60 s for each unit of capacity (6 RPM per 1,000 TPM).
func (d *Deployment) RateLimits() []RateLimit {
	if !IsStandard(d.SKU) {
		return nil
	}
	return []RateLimit{
		{Key: "request", RenewalPeriod: 10, Count: d.Capacity},
		{Key: "token", RenewalPeriod: 60, Count: d.Capacity * 1000},
	}
}

// Callable reports whether the deployment takes requests.
func (d *Deployment) Callable() bool { return d.State == Succeeded }
