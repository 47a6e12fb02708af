// Package project is what Azure calls a resource: one endpoint, two keys,
// its deployments.
package project

import (
	"regexp"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// Default is the project created on first start.
const Default = "default"

// Project is one endpoint with its keys and deployments.
type Project struct {
	Name        string
	Hub         string
	Region      string // a free label, shown as x-ms-region
	Description string
	CreatedAt   time.Time
}

// Account names in Azure: 2–64 characters, starting with a letter or digit.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$`)

// ValidateName checks a hub or project name as Azure checks account names.
func ValidateName(param, name string) error {
	if !nameRE.MatchString(name) {
		return fault.Param(param, "invalidPayload",
			"%s %q is invalid: use 2 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", param, name)
	}
	return nil
}

// Validate checks the project.
func (p *Project) Validate() error {
	if err := ValidateName("name", p.Name); err != nil {
		return err
	}
	if p.Hub == "" {
		return fault.Param("hub", "invalidPayload", "hub is required")
	}
	return nil
}
