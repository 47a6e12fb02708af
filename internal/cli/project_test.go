package cli

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

// decodeJSON decodes a command's -o json output into a value of type T.
func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("stdout is not the JSON wanted: %v\n%s", err, out)
	}
	return v
}

// TestTables runs the read-only commands in table form against the fake's
// canned state and compares stdout with golden files.
func TestTables(t *testing.T) {
	f := newFakeServer(t)
	tests := []struct {
		name string
		args []string
	}{
		{"project_list", []string{"project", "list"}},
		{"project_show", []string{"project", "show", "demo"}},
		{"keys_list", []string{"keys", "list", "--project", "demo"}},
		{"hub_list", []string{"hub", "list"}},
		{"hub_show", []string{"hub", "show", "default"}},
		{"hub_show_no_quota", []string{"hub", "show", "research"}},
		{"hub_quota", []string{"hub", "quota", "default"}},
		{"models_list", []string{"models", "list"}},
		{"models_show", []string{"models", "show", "llama3"}},
		{"deployment_list", []string{"deployment", "list", "--project", "demo"}},
		{"deployment_show", []string{"deployment", "show", "--project", "demo", "--name", "chat"}},
		{"deployment_show", []string{"deployment", "show", "-p", "demo", "chat"}}, // NAME as the argument
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, f.URL, "", tt.args...)
			check(t, got, 0, "", tt.name)
		})
	}
}

// TestJSON checks that -o json prints the API's objects unchanged.
func TestJSON(t *testing.T) {
	f := newFakeServer(t)
	// A project without deployments.
	if got := run(t, f.URL, "", "project", "create", "empty"); got.code != 0 {
		t.Fatalf("project create: %+v", got)
	}
	st := f.state()
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{"project list", []string{"project", "list", "-o", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.projects, decodeJSON[[]api.Project](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"project show", []string{"project", "show", "demo", "--output", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.projects[0], decodeJSON[api.Project](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"keys list", []string{"keys", "list", "-p", "demo", "-o", "json"}, func(t *testing.T, out string) {
			want := map[string]string{"key1": demoKey1, "key2": demoKey2}
			if diff := cmp.Diff(want, decodeJSON[map[string]string](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"hub list", []string{"hub", "list", "-o", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.hubs, decodeJSON[[]api.Hub](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"hub show", []string{"hub", "show", "default", "-o", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.hubs[0], decodeJSON[api.Hub](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"hub quota", []string{"hub", "quota", "default", "-o", "json"}, func(t *testing.T, out string) {
			want := []api.QuotaUsage{
				{Model: "*", SKU: "Standard", UsageName: "Standard.*", Limit: 100, Used: 10, Unit: "K-TPM"},
				{Model: "*", SKU: "ProvisionedManaged", UsageName: "ProvisionedManaged.*", Limit: 50, Unit: "PTU"},
			}
			if diff := cmp.Diff(want, decodeJSON[[]api.QuotaUsage](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"models list", []string{"models", "list", "-o", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.models, decodeJSON[[]api.Model](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"models show", []string{"models", "show", "minilm", "-o", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.models[1], decodeJSON[api.Model](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"deployment list", []string{"deployment", "list", "-p", "demo", "-o", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.deployments, decodeJSON[[]api.Deployment](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"deployment show", []string{"deployment", "show", "-p", "demo", "-n", "chat", "-o", "json"}, func(t *testing.T, out string) {
			if diff := cmp.Diff(st.deployments[0], decodeJSON[api.Deployment](t, out)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}},
		{"empty list is [] not null", []string{"deployment", "list", "-p", "empty", "-o", "json"}, func(t *testing.T, out string) {
			if out != "[]\n" {
				t.Errorf("stdout = %q, want []", out)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, f.URL, "", tt.args...)
			check(t, got, 0, "", "")
			tt.check(t, got.stdout)
		})
	}
}

func TestProjectCreateDelete(t *testing.T) {
	f := newFakeServer(t)

	got := run(t, f.URL, "", "project", "create", "team", "--hub", "research", "--region", "lab", "--description", "Team work")
	check(t, got, 0, "Its keys: cerulean keys list --project team\n", "project_create")
	want := api.Project{Name: "team", Hub: "research", Region: "lab", Description: "Team work", Endpoint: "http://cerulean.test/", CreatedAt: t0}
	if diff := cmp.Diff(want, f.state().projects[1]); diff != "" {
		t.Errorf("created project (-want +got):\n%s", diff)
	}

	got = run(t, f.URL, "", "project", "create", "team2", "-o", "json")
	check(t, got, 0, "", "")
	if p := decodeJSON[api.Project](t, got.stdout); p.Name != "team2" || p.Hub != "default" {
		t.Errorf("created %+v, want team2 in hub default", p)
	}

	deletes := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
		wantGone   bool
	}{
		{
			name:       "declined",
			args:       []string{"project", "delete", "team"},
			stdin:      "n\n",
			wantCode:   1,
			wantStderr: "Delete project team with its keys and deployments? [y/N] Error: project team not deleted: not confirmed (pass --yes to skip the question)\n",
		},
		{
			name:       "no answer",
			args:       []string{"project", "delete", "team"},
			wantCode:   1,
			wantStderr: "Delete project team with its keys and deployments? [y/N] \nError: project team not deleted: not confirmed (pass --yes to skip the question)\n",
		},
		{
			name:       "confirmed",
			args:       []string{"project", "delete", "team"},
			stdin:      "yes\n",
			wantStdout: "Deleted project team.\n",
			wantStderr: "Delete project team with its keys and deployments? [y/N] ",
			wantGone:   true,
		},
		{
			name:       "--yes",
			args:       []string{"project", "delete", "team2", "--yes"},
			wantStdout: "Deleted project team2.\n",
			wantGone:   true,
		},
		{
			name:       "missing",
			args:       []string{"project", "delete", "team2", "-y"},
			wantCode:   1,
			wantStderr: "Error: The project 'team2' does not exist. (ProjectNotFound)\n",
			wantGone:   true,
		},
	}
	for _, tt := range deletes {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, f.URL, tt.stdin, tt.args...)
			check(t, got, tt.wantCode, tt.wantStderr, "")
			if got.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got.stdout, tt.wantStdout)
			}
			if gone := find(f.state().projects, func(p api.Project) bool { return p.Name == tt.args[2] }) < 0; gone != tt.wantGone {
				t.Errorf("project %s gone = %v, want %v", tt.args[2], gone, tt.wantGone)
			}
		})
	}
}

func TestKeysRegenerate(t *testing.T) {
	f := newFakeServer(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		want       api.Keys
	}{
		{name: "key1", args: []string{"key1"}, want: api.Keys{Key1: "key1-demo-new1", Key2: demoKey2}},
		{name: "Key2 in any case", args: []string{"Key2"}, want: api.Keys{Key1: "key1-demo-new1", Key2: "key2-demo-new2"}},
		{
			name: "bad key name", args: []string{"key3"}, wantCode: 2,
			wantStderr: "Error: key \"key3\": want key1 or key2\nRun 'cerulean keys regenerate --help' for usage.\n",
			want:       api.Keys{Key1: "key1-demo-new1", Key2: "key2-demo-new2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, f.URL, "", append([]string{"keys", "regenerate", "-p", "demo", "-o", "json"}, tt.args...)...)
			check(t, got, tt.wantCode, tt.wantStderr, "")
			if diff := cmp.Diff(tt.want, f.state().keys["demo"]); diff != "" {
				t.Errorf("keys on the server (-want +got):\n%s", diff)
			}
			if tt.wantCode == 0 {
				if diff := cmp.Diff(tt.want, decodeJSON[api.Keys](t, got.stdout)); diff != "" {
					t.Errorf("printed keys (-want +got):\n%s", diff)
				}
			}
		})
	}

	got := run(t, f.URL, "", "keys", "regenerate", "--project", "demo", "key1")
	check(t, got, 0, "", "keys_regenerate")
}

func TestHubCreate(t *testing.T) {
	f := newFakeServer(t)
	got := run(t, f.URL, "", "hub", "create", "lab", "--description", "Lab machines")
	check(t, got, 0, "", "hub_create")
	want := api.Hub{Name: "lab", Description: "Lab machines", CreatedAt: t0, Quotas: []api.QuotaLimit{{Model: "*", SKU: "Standard", Limit: 30}}}
	if diff := cmp.Diff(want, f.state().hubs[2]); diff != "" {
		t.Errorf("created hub (-want +got):\n%s", diff)
	}
	got = run(t, f.URL, "", "hub", "create", "lab")
	check(t, got, 1, "Error: A hub named 'lab' already exists. (HubAlreadyExists)\n", "")
}
