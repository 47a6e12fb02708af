package manage

import (
	"fmt"
	"net/http"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/fault"
)

// listKeys shows a project's two keys, opened with the sealer (Azure's
// listKeys).
func (a *API) listKeys(r *http.Request) (reply, error) {
	p, err := a.mustProject(r)
	if err != nil {
		return reply{}, err
	}
	keys, err := a.openKeys(r, p.Name)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: keys}, nil
}

// regenerateKey replaces one of a project's keys; the other keeps working.
// The body is {"keyName":"key1"|"key2"} (Azure's "Key1"/"Key2" too).
func (a *API) regenerateKey(r *http.Request) (reply, error) {
	var in api.RegenerateKey
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	slot, err := apikey.ParseSlot(in.KeyName)
	if err != nil {
		return reply{}, fault.Param("keyName", codeInvalidPayload, "keyName %q is unknown: want key1 or key2", in.KeyName)
	}
	p, err := a.mustProject(r)
	if err != nil {
		return reply{}, err
	}
	_, k, err := apikey.New(a.sealer, p.Name, slot, a.now().UTC())
	if err != nil {
		return reply{}, fmt.Errorf("make %s of project %s: %w", slot, p.Name, err)
	}
	if err := a.store.ReplaceKey(r.Context(), k); err != nil {
		return reply{}, fmt.Errorf("replace %s of project %s: %w", slot, p.Name, err)
	}
	a.changed() // the old key must stop working now
	keys, err := a.openKeys(r, p.Name)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: keys}, nil
}

// openKeys reads and opens a project's keys.
func (a *API) openKeys(r *http.Request, projectName string) (api.Keys, error) {
	stored, err := a.store.ListKeys(r.Context(), projectName)
	if err != nil {
		return api.Keys{}, fmt.Errorf("list keys of project %s: %w", projectName, err)
	}
	var out api.Keys
	for _, k := range stored {
		plain, err := a.sealer.Open(k.Sealed)
		if err != nil {
			return api.Keys{}, fmt.Errorf("open %s of project %s: %w", k.Slot, projectName, err)
		}
		switch k.Slot {
		case apikey.Key1:
			out.Key1 = plain
		case apikey.Key2:
			out.Key2 = plain
		}
	}
	if out.Key1 == "" || out.Key2 == "" {
		return api.Keys{}, fmt.Errorf("project %s has %d keys stored, want key1 and key2", projectName, len(stored))
	}
	return out, nil
}
