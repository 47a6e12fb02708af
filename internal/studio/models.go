package studio

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cerulean-ai/cerulean/api"
)

// capabilityFilters are the catalog's filters, in order.
func capabilityFilters() []struct{ Key, Label string } {
	return []struct{ Key, Label string }{
		{"chat", "Chat"}, {"completion", "Completion"}, {"embeddings", "Embeddings"},
		{"json_schema", "JSON schema"}, {"tools", "Tools"},
	}
}

// hasCapability reports whether c includes the filter key.
func hasCapability(c api.Capabilities, key string) bool {
	switch key {
	case "chat":
		return c.Chat
	case "completion":
		return c.Completion
	case "embeddings":
		return c.Embeddings
	case "json_schema":
		return c.JSONSchema
	case "tools":
		return c.Tools
	case "fine_tune":
		return c.FineTune
	}
	return true
}

// capabilityNames lists c's capabilities for display.
func capabilityNames(c api.Capabilities) []string {
	var out []string
	for _, f := range capabilityFilters() {
		if hasCapability(c, f.Key) {
			out = append(out, f.Label)
		}
	}
	if c.FineTune {
		out = append(out, "Fine-tune")
	}
	return out
}

// modelRow is one catalog model with its default version.
type modelRow struct {
	api.Model
	Default      api.ModelVersion
	Capabilities []string
	SKUs         []string
	Deployable   bool
}

// filter is one capability link of the catalog.
type filter struct {
	Key, Label string
	Active     bool
}

// catalogPage is the catalog, possibly filtered, and in the deploy wizard
// the project it deploys into.
type catalogPage struct {
	Models     []modelRow
	Filters    []filter
	Capability string
	Project    string // set in the deploy wizard
}

// defaultVersion is m's default version (else its last).
func defaultVersion(m api.Model) api.ModelVersion {
	for _, v := range m.Versions {
		if v.Version == m.DefaultVersion {
			return v
		}
	}
	if len(m.Versions) > 0 {
		return m.Versions[len(m.Versions)-1]
	}
	return api.ModelVersion{}
}

// loadCatalog lists models filtered by capability.
func (s *Studio) loadCatalog(q *request, capability string) (catalogPage, error) {
	ms, err := q.api.ListModels(q.ctx())
	if err != nil {
		return catalogPage{}, err
	}
	slices.SortFunc(ms, func(a, b api.Model) int { return strings.Compare(a.Name, b.Name) })
	p := catalogPage{Capability: capability}
	for _, f := range capabilityFilters() {
		p.Filters = append(p.Filters, filter{Key: f.Key, Label: f.Label, Active: f.Key == capability})
	}
	for _, m := range ms {
		v := defaultVersion(m)
		if capability != "" && !hasCapability(v.Capabilities, capability) {
			continue
		}
		skus := v.SKUs
		if len(skus) == 0 {
			skus = []string{"all types"}
		}
		p.Models = append(p.Models, modelRow{Model: m, Default: v, Capabilities: capabilityNames(v.Capabilities),
			SKUs: skus, Deployable: v.Lifecycle != "deprecated"})
	}
	return p, nil
}

// catalog is the model catalog.
func (s *Studio) catalog(q *request) {
	p, err := s.loadCatalog(q, q.r.URL.Query().Get("capability"))
	if err != nil {
		s.fail(q, err)
		return
	}
	s.render(q.w, http.StatusOK, "catalog", q.view("Model catalog", "catalog", p))
}

// modelForm is the "+ Add model" form.
type modelForm struct {
	Name, Description, Version, Format         string
	BaseURL, UpstreamModel, APIKey, File       string
	ContextLength, Lifecycle                   string
	InputPrice, OutputPrice, CachedPrice, PTUH string
	Caps                                       map[string]bool
	Errors                                     []formError
}

// modelFields maps the API's error targets to the model form.
func modelFields() map[string]string {
	return map[string]string{
		"name": "name", "versions": "version", "defaultVersion": "version", "format": "format",
		"upstream": "baseURL", "upstream.baseURL": "baseURL", "upstream.model": "upstreamModel",
		"file": "file", "contextLength": "contextLength", "lifecycle": "lifecycle",
		"prices": "inputPrice", "capabilities": "caps", "skus": "",
	}
}

func (s *Studio) newModel(q *request) {
	f := modelForm{Version: "1", Format: "upstream", Lifecycle: "generally-available", Caps: map[string]bool{"chat": true}}
	s.render(q.w, http.StatusOK, "model_new", q.view("Add a model", "catalog", f))
}

// createModel posts the "+ Add model" form.
func (s *Studio) createModel(q *request) {
	pf := q.r.PostForm
	f := modelForm{
		Name: strings.TrimSpace(pf.Get("name")), Description: strings.TrimSpace(pf.Get("description")),
		Version: strings.TrimSpace(pf.Get("version")), Format: pf.Get("format"),
		BaseURL: strings.TrimSpace(pf.Get("baseURL")), UpstreamModel: strings.TrimSpace(pf.Get("upstreamModel")),
		APIKey: pf.Get("apiKey"), File: strings.TrimSpace(pf.Get("file")),
		ContextLength: strings.TrimSpace(pf.Get("contextLength")), Lifecycle: pf.Get("lifecycle"),
		InputPrice: strings.TrimSpace(pf.Get("inputPrice")), OutputPrice: strings.TrimSpace(pf.Get("outputPrice")),
		CachedPrice: strings.TrimSpace(pf.Get("cachedPrice")), PTUH: strings.TrimSpace(pf.Get("ptuHour")),
		Caps: map[string]bool{},
	}
	for _, c := range pf["caps"] {
		f.Caps[c] = true
	}
	again := func(fe formError) {
		f.Errors = []formError{fe}
		f.APIKey = "" // never echo a secret back into the page
		s.render(q.w, http.StatusUnprocessableEntity, "model_new", q.view("Add a model", "catalog", f))
	}
	v := api.ModelVersion{Version: f.Version, Format: f.Format, Lifecycle: f.Lifecycle, Capabilities: api.Capabilities{
		Chat: f.Caps["chat"], Completion: f.Caps["completion"], Embeddings: f.Caps["embeddings"],
		JSONSchema: f.Caps["json_schema"], Tools: f.Caps["tools"], FineTune: f.Caps["fine_tune"],
	}}
	switch f.Format {
	case "upstream":
		v.Upstream = &api.Upstream{BaseURL: f.BaseURL, Model: f.UpstreamModel, APIKey: f.APIKey}
	case "gguf":
		v.File = f.File
	}
	nums := []struct {
		field, text string
		dst         *float64
	}{
		{"inputPrice", f.InputPrice, &v.Prices.InputPer1K}, {"outputPrice", f.OutputPrice, &v.Prices.OutputPer1K},
		{"cachedPrice", f.CachedPrice, &v.Prices.CachedInputPer1K}, {"ptuHour", f.PTUH, &v.Prices.PTUHour},
	}
	for _, n := range nums {
		if n.text == "" {
			continue
		}
		x, err := strconv.ParseFloat(n.text, 64)
		if err != nil {
			again(formError{Field: n.field, Message: "Enter a number, such as 0.002."})
			return
		}
		*n.dst = x
	}
	if f.ContextLength != "" {
		n, err := strconv.Atoi(f.ContextLength)
		if err != nil {
			again(formError{Field: "contextLength", Message: "Enter a whole number of tokens, such as 4096."})
			return
		}
		v.ContextLength = n
	}
	m, err := q.api.CreateModel(q.ctx(), api.Model{Name: f.Name, Description: f.Description, DefaultVersion: f.Version, Versions: []api.ModelVersion{v}})
	if err != nil {
		fe, ok := toFormError(err, modelFields())
		if !ok {
			s.fail(q, err)
			return
		}
		again(fe)
		return
	}
	seeOther(q, "/studio/models?flash="+url.QueryEscape("Model "+m.Name+" added to the catalog."))
}
