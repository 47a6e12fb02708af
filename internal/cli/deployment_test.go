package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

// stored returns the fake's deployment project/name, if it has it.
func stored(f *fakeServer, project, name string) (api.Deployment, bool) {
	for _, d := range f.state().deployments {
		if d.Project == project && d.Name == name {
			return d, true
		}
	}
	return api.Deployment{}, false
}

func TestDeploymentCreate(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		golden     string
		want       *api.Deployment // stored afterwards under the name "new"
	}{
		{
			name:       "waits until it succeeds",
			args:       []string{"-p", "demo", "--name", "new", "--model", "llama3"},
			wantStderr: "Waiting for deployment new to be ready...\n",
			golden:     "deployment_create",
			want: &api.Deployment{Name: "new", Project: "demo", Model: api.DeploymentModel{Name: "llama3", Version: "1"},
				SKU: api.SKU{Name: "Standard", Capacity: 1}, ProvisioningState: "Succeeded", CreatedAt: t0, UpdatedAt: t0},
		},
		{
			name: "every flag, no wait",
			args: []string{"--project", "demo", "new", "--model", "llama3", "--version", "1", "--sku", "GlobalStandard", "--capacity", "5",
				"--version-upgrade-option", "NoAutoUpgrade", "--rai-policy", "Strict", "--no-wait"},
			golden: "deployment_create_no_wait",
			want: &api.Deployment{Name: "new", Project: "demo", Model: api.DeploymentModel{Name: "llama3", Version: "1"},
				SKU: api.SKU{Name: "GlobalStandard", Capacity: 5}, VersionUpgradeOption: "NoAutoUpgrade", RAIPolicyName: "Strict",
				ProvisioningState: "Creating", CreatedAt: t0, UpdatedAt: t0},
		},
		{
			name:       "failed",
			args:       []string{"-p", "demo", "-n", "new", "--model", "broken"},
			wantCode:   1,
			wantStderr: "Waiting for deployment new to be ready...\nError: deployment new failed: upstream http://127.0.0.1:1/v1 is not reachable\n",
			golden:     "deployment_create_failed",
			want: &api.Deployment{Name: "new", Project: "demo", Model: api.DeploymentModel{Name: "broken", Version: "1"},
				SKU: api.SKU{Name: "Standard", Capacity: 1}, ProvisioningState: "Failed",
				Reason: "upstream http://127.0.0.1:1/v1 is not reachable", CreatedAt: t0, UpdatedAt: t0},
		},
		{
			name:       "name taken",
			args:       []string{"-p", "demo", "-n", "chat", "--model", "llama3"},
			wantCode:   1,
			wantStderr: "Error: A deployment named 'chat' already exists in project 'demo'. (DeploymentAlreadyExists)\n",
		},
		{
			name:       "no such project",
			args:       []string{"-p", "nope", "-n", "new", "--model", "llama3"},
			wantCode:   1,
			wantStderr: "Error: The project 'nope' does not exist. (ProjectNotFound)\n",
		},
		{
			name:       "no model",
			args:       []string{"-p", "demo", "-n", "new"},
			wantCode:   2,
			wantStderr: "Error: required flag(s) \"model\" not set\nRun 'cerulean deployment create --help' for usage.\n",
		},
		{
			name:       "no name",
			args:       []string{"-p", "demo", "--model", "llama3"},
			wantCode:   2,
			wantStderr: "Error: required flag(s) \"name\" not set\nRun 'cerulean deployment create --help' for usage.\n",
		},
		{
			name:       "name twice",
			args:       []string{"-p", "demo", "-n", "new", "other", "--model", "llama3"},
			wantCode:   2,
			wantStderr: "Error: --name \"new\" and argument \"other\" disagree\nRun 'cerulean deployment create --help' for usage.\n",
		},
		{
			name:       "no capacity",
			args:       []string{"-p", "demo", "-n", "new", "--model", "llama3", "--capacity", "0"},
			wantCode:   2,
			wantStderr: "Error: --capacity 0: want at least 1 (0 or more replicas for ManagedCompute)\nRun 'cerulean deployment create --help' for usage.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			got := run(t, f.URL, "", append([]string{"deployment", "create"}, tt.args...)...)
			check(t, got, tt.wantCode, tt.wantStderr, tt.golden)
			d, ok := stored(f, "demo", "new")
			if tt.want == nil {
				if ok {
					t.Errorf("deployment new was created: %+v", d)
				}
				return
			}
			if diff := cmp.Diff(*tt.want, d); diff != "" {
				t.Errorf("stored deployment (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeploymentCreateJSON(t *testing.T) {
	f := newFakeServer(t)
	got := run(t, f.URL, "", "deployment", "create", "-o", "json", "-p", "demo", "-n", "new", "--model", "llama3")
	check(t, got, 0, "Waiting for deployment new to be ready...\n", "")
	want, _ := stored(f, "demo", "new")
	if diff := cmp.Diff(want, decodeJSON[api.Deployment](t, got.stdout)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if want.ProvisioningState != "Succeeded" {
		t.Errorf("state = %q, want Succeeded", want.ProvisioningState)
	}
}

func TestDeploymentUpdate(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		golden     string
		want       func(d *api.Deployment) // changes to the seeded deployment "chat"
	}{
		{
			name:   "capacity",
			args:   []string{"--capacity", "20"},
			golden: "deployment_update",
			want:   func(d *api.Deployment) { d.SKU.Capacity = 20 },
		},
		{
			name:       "version redeploys and waits",
			args:       []string{"--version", "2", "--rai-policy", "Strict", "--version-upgrade-option", "NoAutoUpgrade"},
			wantStderr: "Waiting for deployment chat to be ready...\n",
			want: func(d *api.Deployment) {
				d.Model.Version, d.RAIPolicyName, d.VersionUpgradeOption = "2", "Strict", "NoAutoUpgrade"
			},
		},
		{
			name:       "nothing to change",
			wantCode:   2,
			wantStderr: "Error: nothing to update: give --capacity, --version, --version-upgrade-option, --rai-policy, --instance-type or --scale-to-zero\nRun 'cerulean deployment update --help' for usage.\n",
			want:       func(*api.Deployment) {},
		},
		{
			name:       "capacity negative",
			args:       []string{"--capacity=-1"},
			wantCode:   2,
			wantStderr: "Error: --capacity -1: want at least 1 (0 or more replicas for ManagedCompute)\nRun 'cerulean deployment update --help' for usage.\n",
			want:       func(*api.Deployment) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			want := f.state().deployments[0]
			tt.want(&want)
			got := run(t, f.URL, "", append([]string{"deployment", "update", "-p", "demo", "-n", "chat"}, tt.args...)...)
			check(t, got, tt.wantCode, tt.wantStderr, tt.golden)
			d, _ := stored(f, "demo", "chat")
			if diff := cmp.Diff(want, d); diff != "" {
				t.Errorf("stored deployment (-want +got):\n%s", diff)
			}
		})
	}

	f := newFakeServer(t)
	got := run(t, f.URL, "", "deployment", "update", "-p", "demo", "-n", "gone", "--capacity", "2")
	check(t, got, 1, "Error: The deployment 'gone' does not exist. (DeploymentNotFound)\n", "")
}

func TestDeploymentDelete(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
		wantState  string // of "chat" afterwards; "" when gone
	}{
		{
			name:       "waits until gone",
			args:       []string{"-n", "chat"},
			wantStdout: "Deleted deployment chat.\n",
			wantStderr: "Waiting for deployment chat to be deleted...\n",
		},
		{
			name:       "no wait",
			args:       []string{"chat", "--no-wait"},
			wantStdout: "Deleting deployment chat.\n",
			wantState:  "Deleting",
		},
		{
			name:       "json prints nothing",
			args:       []string{"chat", "-o", "json"},
			wantStderr: "Waiting for deployment chat to be deleted...\n",
		},
		{
			name:       "not there",
			args:       []string{"-n", "nope"},
			wantCode:   1,
			wantStderr: "Error: The deployment 'nope' does not exist. (DeploymentNotFound)\n",
			wantState:  "Succeeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			got := run(t, f.URL, "", append([]string{"deployment", "delete", "-p", "demo"}, tt.args...)...)
			check(t, got, tt.wantCode, tt.wantStderr, "")
			if got.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got.stdout, tt.wantStdout)
			}
			d, _ := stored(f, "demo", "chat")
			if d.ProvisioningState != tt.wantState {
				t.Errorf("state of chat = %q, want %q", d.ProvisioningState, tt.wantState)
			}
		})
	}
}
