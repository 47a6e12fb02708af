package catalog

import (
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

func upstreamModel() Model {
	return Model{Name: "gpt-local", Versions: []Version{{
		Version: "1", Format: FormatUpstream,
		Upstream:     &Upstream{BaseURL: "http://127.0.0.1:8000/v1", Model: "qwen"},
		Capabilities: Capabilities{Chat: true},
	}}}
}

func TestValidateFillsDefaults(t *testing.T) {
	m := upstreamModel()
	m.Versions = append(m.Versions, Version{Format: FormatGGUF, File: "/m.gguf", Capabilities: Capabilities{Completion: true}, Version: "2"})
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.DefaultVersion != "2" {
		t.Errorf("DefaultVersion = %q, want the last version 2", m.DefaultVersion)
	}
	if m.Versions[0].Lifecycle != GenerallyAvailable {
		t.Errorf("Lifecycle = %q, want %q", m.Versions[0].Lifecycle, GenerallyAvailable)
	}
	v, ok := m.Version("")
	if !ok || v.Version != "2" {
		t.Errorf("Version(\"\") = %v, %v; want the default", v.Version, ok)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Model)
		param  string
	}{
		{"bad name", func(m *Model) { m.Name = "has space" }, "name"},
		{"no versions", func(m *Model) { m.Versions = nil }, "versions"},
		{"relative url", func(m *Model) { m.Versions[0].Upstream.BaseURL = "localhost:8000" }, "upstream.baseURL"},
		{"ftp url", func(m *Model) { m.Versions[0].Upstream.BaseURL = "ftp://h/v1" }, "upstream.baseURL"},
		{"no upstream model", func(m *Model) { m.Versions[0].Upstream.Model = "" }, "upstream.model"},
		{"no upstream", func(m *Model) { m.Versions[0].Upstream = nil }, "upstream"},
		{"unknown format", func(m *Model) { m.Versions[0].Format = "onnx" }, "format"},
		{"gguf without file", func(m *Model) { m.Versions[0].Format = FormatGGUF }, "file"},
		{"bad lifecycle", func(m *Model) { m.Versions[0].Lifecycle = "beta" }, "lifecycle"},
		{"negative price", func(m *Model) { m.Versions[0].Prices.InputPer1K = -1 }, "prices"},
		{"unknown sku", func(m *Model) { m.Versions[0].SKUs = []string{"Premium"} }, "skus"},
		{"no capability", func(m *Model) { m.Versions[0].Capabilities = Capabilities{} }, "capabilities"},
		{"missing default", func(m *Model) { m.DefaultVersion = "9" }, "defaultVersion"},
		{"duplicate version", func(m *Model) { m.Versions = append(m.Versions, m.Versions[0]) }, "versions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := upstreamModel()
			tt.mutate(&m)
			err := m.Validate()
			f, ok := fault.As(err)
			if !ok || f.Kind != fault.Invalid || f.Param != tt.param {
				t.Errorf("Validate = %v, want Invalid on %q", err, tt.param)
			}
		})
	}
}

func TestRetiredAndAllows(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := Version{RetirementAt: &at, SKUs: []string{"Standard"}}
	if v.Retired(at.Add(-time.Second)) || !v.Retired(at) {
		t.Error("Retired is wrong around the retirement time")
	}
	if !v.Allows("Standard") || v.Allows("ProvisionedManaged") {
		t.Error("Allows is wrong")
	}
	if !(&Version{}).Allows("ManagedCompute") {
		t.Error("an empty SKU list should allow every type")
	}
}
