package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorded is one request the fake management server saw.
type recorded struct {
	Method, URI, Auth, ContentType, Body string
}

// fakeManagement records requests and answers each with status and body.
type fakeManagement struct {
	status int
	body   string
	mu     sync.Mutex
	got    []recorded
}

func (f *fakeManagement) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got
}

func (f *fakeManagement) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, recorded{r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
	f.mu.Unlock()
	if f.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, f.body)
}

func TestClientRequests(t *testing.T) {
	ctx := context.Background()
	capacity := 3
	tests := []struct {
		name     string
		call     func(c *Client) (any, error)
		status   int
		respond  string
		want     recorded
		wantBody any
	}{
		{"ListHubs", func(c *Client) (any, error) { return c.ListHubs(ctx) }, 200, `{"value":[{"name":"h1","quotas":[]}]}`,
			recorded{Method: "GET", URI: "/api/v1/hubs"}, []Hub{{Name: "h1", Quotas: []QuotaLimit{}}}},
		{"GetHub", func(c *Client) (any, error) { return c.GetHub(ctx, "h 1") }, 200, `{"name":"h 1"}`,
			recorded{Method: "GET", URI: "/api/v1/hubs/h%201"}, Hub{Name: "h 1"}},
		{"CreateHub", func(c *Client) (any, error) { return c.CreateHub(ctx, Hub{Name: "h1"}) }, 201, `{"name":"h1"}`,
			recorded{Method: "POST", URI: "/api/v1/hubs", ContentType: "application/json",
				Body: `{"name":"h1","quotas":null,"createdAt":"0001-01-01T00:00:00Z"}`}, Hub{Name: "h1"}},
		{"UpdateHub", func(c *Client) (any, error) { return c.UpdateHub(ctx, Hub{Name: "h1", Description: "d"}) }, 200, `{"name":"h1","description":"d"}`,
			recorded{Method: "PATCH", URI: "/api/v1/hubs/h1", ContentType: "application/json",
				Body: `{"name":"h1","description":"d","quotas":null,"createdAt":"0001-01-01T00:00:00Z"}`}, Hub{Name: "h1", Description: "d"}},
		{"DeleteHub", func(c *Client) (any, error) { return nil, c.DeleteHub(ctx, "h1") }, 204, ``,
			recorded{Method: "DELETE", URI: "/api/v1/hubs/h1"}, nil},
		{"HubQuotas", func(c *Client) (any, error) { return c.HubQuotas(ctx, "h1") }, 200, `{"value":[{"model":"m","sku":"Standard","limit":5,"used":1,"unit":"K-TPM"}]}`,
			recorded{Method: "GET", URI: "/api/v1/hubs/h1/quotas"}, []QuotaUsage{{Model: "m", SKU: "Standard", Limit: 5, Used: 1, Unit: "K-TPM"}}},
		{"ListProjects", func(c *Client) (any, error) { return c.ListProjects(ctx) }, 200, `{"value":[]}`,
			recorded{Method: "GET", URI: "/api/v1/projects"}, []Project{}},
		{"GetProject", func(c *Client) (any, error) { return c.GetProject(ctx, "a/b?c") }, 200, `{"name":"x"}`,
			recorded{Method: "GET", URI: "/api/v1/projects/a%2Fb%3Fc"}, Project{Name: "x"}},
		{"CreateProject", func(c *Client) (any, error) { return c.CreateProject(ctx, CreateProject{Name: "p1"}) }, 201, `{"name":"p1","hub":"default"}`,
			recorded{Method: "POST", URI: "/api/v1/projects", ContentType: "application/json", Body: `{"name":"p1"}`}, Project{Name: "p1", Hub: "default"}},
		{"DeleteProject", func(c *Client) (any, error) { return nil, c.DeleteProject(ctx, "p1") }, 204, ``,
			recorded{Method: "DELETE", URI: "/api/v1/projects/p1"}, nil},
		{"ListKeys", func(c *Client) (any, error) { return c.ListKeys(ctx, "p1") }, 200, `{"key1":"a","key2":"b"}`,
			recorded{Method: "GET", URI: "/api/v1/projects/p1/keys"}, Keys{Key1: "a", Key2: "b"}},
		{"RegenerateKey", func(c *Client) (any, error) { return c.RegenerateKey(ctx, "p1", "key2") }, 200, `{"key1":"a","key2":"c"}`,
			recorded{Method: "POST", URI: "/api/v1/projects/p1/keys/regenerate", ContentType: "application/json", Body: `{"keyName":"key2"}`},
			Keys{Key1: "a", Key2: "c"}},
		{"ListModels", func(c *Client) (any, error) { return c.ListModels(ctx) }, 200, `{"value":[{"name":"m"}]}`,
			recorded{Method: "GET", URI: "/api/v1/models"}, []Model{{Name: "m"}}},
		{"GetModel", func(c *Client) (any, error) { return c.GetModel(ctx, "gpt-4o:mini") }, 200, `{"name":"gpt-4o:mini"}`,
			recorded{Method: "GET", URI: "/api/v1/models/gpt-4o:mini"}, Model{Name: "gpt-4o:mini"}},
		{"CreateModel", func(c *Client) (any, error) { return c.CreateModel(ctx, Model{Name: "m"}) }, 201, `{"name":"m"}`,
			recorded{Method: "POST", URI: "/api/v1/models", ContentType: "application/json", Body: `{"name":"m","defaultVersion":"","versions":null}`}, Model{Name: "m"}},
		{"UpdateModel", func(c *Client) (any, error) { d := "x"; return c.UpdateModel(ctx, "m", ModelUpdate{Description: &d}) }, 200, `{"name":"m","description":"x"}`,
			recorded{Method: "PATCH", URI: "/api/v1/models/m", ContentType: "application/json", Body: `{"description":"x"}`}, Model{Name: "m", Description: "x"}},
		{"DeleteModel", func(c *Client) (any, error) { return nil, c.DeleteModel(ctx, "m") }, 204, ``,
			recorded{Method: "DELETE", URI: "/api/v1/models/m"}, nil},
		{"ListDeployments", func(c *Client) (any, error) { return c.ListDeployments(ctx, "p1") }, 200, `{"value":[{"name":"d"}]}`,
			recorded{Method: "GET", URI: "/api/v1/projects/p1/deployments"}, []Deployment{{Name: "d"}}},
		{"GetDeployment", func(c *Client) (any, error) { return c.GetDeployment(ctx, "p1", "d.1") }, 200, `{"name":"d.1"}`,
			recorded{Method: "GET", URI: "/api/v1/projects/p1/deployments/d.1"}, Deployment{Name: "d.1"}},
		{"CreateDeployment", func(c *Client) (any, error) {
			return c.CreateDeployment(ctx, "p1", Deployment{Name: "d", Model: DeploymentModel{Name: "m"}})
		}, 201, `{"name":"d","provisioningState":"Creating"}`,
			recorded{Method: "POST", URI: "/api/v1/projects/p1/deployments", ContentType: "application/json",
				Body: `{"name":"d","project":"","model":{"name":"m"},"sku":{"name":"","capacity":0}}`},
			Deployment{Name: "d", ProvisioningState: "Creating"}},
		{"UpdateDeployment", func(c *Client) (any, error) {
			return c.UpdateDeployment(ctx, "p1", "d", DeploymentUpdate{Capacity: &capacity})
		}, 200, `{"name":"d","sku":{"name":"Standard","capacity":3}}`,
			recorded{Method: "PATCH", URI: "/api/v1/projects/p1/deployments/d", ContentType: "application/json", Body: `{"capacity":3}`},
			Deployment{Name: "d", SKU: SKU{Name: "Standard", Capacity: 3}}},
		{"DeleteDeployment", func(c *Client) (any, error) { return nil, c.DeleteDeployment(ctx, "p1", "d") }, 202, `{"name":"d","provisioningState":"Deleting"}`,
			recorded{Method: "DELETE", URI: "/api/v1/projects/p1/deployments/d"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeManagement{status: tt.status, body: tt.respond}
			srv := httptest.NewServer(f)
			defer srv.Close()
			got, err := tt.call(New(srv.URL+"/", "tok"))
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			tt.want.Auth = "Bearer tok"
			if diff := cmp.Diff([]recorded{tt.want}, f.requests()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if tt.wantBody != nil {
				if diff := cmp.Diff(tt.wantBody, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestClientErrorAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   *Error
	}{
		{"envelope", 404, `{"error":{"code":"HubNotFound","message":"hub \"x\" does not exist","target":"x"}}`,
			&Error{Status: 404, Code: "HubNotFound", Message: `hub "x" does not exist`, Target: "x"}},
		{"envelope without a code", 409, `{"error":{"message":"busy"}}`, &Error{Status: 409, Code: "409", Message: "busy"}},
		{"plain text", 405, "Method Not Allowed\n", &Error{Status: 405, Code: "405", Message: "Method Not Allowed"}},
		{"empty", 502, "", &Error{Status: 502, Code: "502", Message: "Bad Gateway"}},
		{"html", 500, "<html>" + string(make([]byte, 300)) + "</html>", &Error{Status: 500, Code: "500", Message: "Internal Server Error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&fakeManagement{status: tt.status, body: tt.body})
			defer srv.Close()
			_, err := New(srv.URL, "tok").GetHub(context.Background(), "x")
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("error %v (%T), want an *Error", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if IsNotFound(fmt.Errorf("wrapped: %w", err)) != (tt.status == 404) {
				t.Errorf("IsNotFound = %v for status %d", !(tt.status == 404), tt.status)
			}
		})
	}
	e := &Error{Status: 409, Code: "InsufficientQuota", Message: "too big"}
	if e.Error() != "too big (InsufficientQuota)" {
		t.Errorf("Error() = %q", e.Error())
	}
	if IsNotFound(errors.New("404")) || IsNotFound(nil) {
		t.Error("IsNotFound is true for a non-*Error")
	}
}

func TestClientBadResponse(t *testing.T) {
	srv := httptest.NewServer(&fakeManagement{status: 200, body: `{"name":`})
	defer srv.Close()
	_, err := New(srv.URL, "tok").GetHub(context.Background(), "x")
	var apiErr *Error
	if err == nil || errors.As(err, &apiErr) {
		t.Errorf("truncated body: %v, want a decode error", err)
	}
}

// countingTransport counts the requests it carries.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestClientWithHTTPClient(t *testing.T) {
	srv := httptest.NewServer(&fakeManagement{status: 200, body: `{"value":[]}`})
	defer srv.Close()
	var tr countingTransport
	c := New(srv.URL, "tok", WithHTTPClient(&http.Client{Transport: &tr}))
	if _, err := c.ListModels(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr.n.Load() != 1 {
		t.Errorf("the given http.Client carried %d requests, want 1", tr.n.Load())
	}
}

func TestWaitDeploymentBacksOff(t *testing.T) {
	var (
		mu    sync.Mutex
		times []time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		state := "Creating"
		if n >= 5 {
			state = "Succeeded"
		}
		_ = json.NewEncoder(w).Encode(Deployment{Name: "d", ProvisioningState: state})
	}))
	defer srv.Close()
	d, err := New(srv.URL, "tok").WaitDeployment(context.Background(), "p", "d")
	mu.Lock()
	defer mu.Unlock()
	if err != nil || d.ProvisioningState != "Succeeded" || len(times) != 5 {
		t.Fatalf("WaitDeployment = %+v, %v after %d polls", d, err, len(times))
	}
	// Waits of 50, 100, 200 and 400 ms: the last gap is the longest.
	if gap := times[4].Sub(times[3]); gap < 350*time.Millisecond {
		t.Errorf("fourth wait %v, want about 400ms", gap)
	}
	if gap := times[1].Sub(times[0]); gap < 40*time.Millisecond || gap > 300*time.Millisecond {
		t.Errorf("first wait %v, want about 50ms", gap)
	}
}
