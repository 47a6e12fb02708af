package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to a Cerulean server's management API with the admin token.
// It is safe for concurrent use.
type Client struct {
	baseURL string
	token   string
	hc      *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// New returns a client of the server at baseURL (such as
// "http://127.0.0.1:8080") that authenticates with the admin token.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the server's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseURL }

func (c *Client) httpClient() *http.Client {
	if c.hc != nil {
		return c.hc
	}
	return http.DefaultClient
}

// Error is a non-2xx answer of the server.
type Error struct {
	Status  int    // the HTTP status
	Code    string // a stable code, such as "InsufficientQuota"
	Message string
	Target  string // the field or resource it concerns, if any
}

func (e *Error) Error() string { return e.Message + " (" + e.Code + ")" }

// IsNotFound reports whether err is the server's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// maxResponse bounds a response body the client reads.
const maxResponse = 32 << 20

// apiPath joins /api/v1 and escaped segments.
func apiPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends method p with in as its JSON body (none when nil) and decodes a
// 2xx answer into out (ignored when nil). Other answers are an *Error.
func (c *Client) do(ctx context.Context, method, p string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, p, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+p, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, p, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, p, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return managementError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, p, err)
	}
	return nil
}

// managementError reads a non-2xx answer: the {"error":{...}} envelope
// when there is one, else the status and a short body.
func managementError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var env ErrorBody
	if err := json.Unmarshal(b, &env); err == nil && env.Error.Message != "" {
		e := &Error{Status: resp.StatusCode, Code: env.Error.Code, Message: env.Error.Message, Target: env.Error.Target}
		if e.Code == "" {
			e.Code = strconv.Itoa(resp.StatusCode)
		}
		return e
	}
	msg := strings.TrimSpace(string(b))
	if msg == "" || len(msg) > 200 {
		msg = http.StatusText(resp.StatusCode)
	}
	return &Error{Status: resp.StatusCode, Code: strconv.Itoa(resp.StatusCode), Message: msg}
}

// list gets a {"value":[...]} list.
func list[T any](ctx context.Context, c *Client, p string) ([]T, error) {
	var l List[T]
	if err := c.do(ctx, http.MethodGet, p, nil, &l); err != nil {
		return nil, err
	}
	return l.Value, nil
}

// ListHubs lists every hub.
func (c *Client) ListHubs(ctx context.Context) ([]Hub, error) {
	return list[Hub](ctx, c, apiPath("hubs"))
}

// GetHub returns one hub.
func (c *Client) GetHub(ctx context.Context, name string) (Hub, error) {
	var h Hub
	err := c.do(ctx, http.MethodGet, apiPath("hubs", name), nil, &h)
	return h, err
}

// CreateHub makes a hub. Nil Quotas get the server's default quotas; an
// empty, non-nil list means none.
func (c *Client) CreateHub(ctx context.Context, h Hub) (Hub, error) {
	var out Hub
	err := c.do(ctx, http.MethodPost, apiPath("hubs"), h, &out)
	return out, err
}

// UpdateHub changes hub h.Name: its description when h.Description is not
// empty, its quotas when h.Quotas is not nil.
func (c *Client) UpdateHub(ctx context.Context, h Hub) (Hub, error) {
	var out Hub
	err := c.do(ctx, http.MethodPatch, apiPath("hubs", h.Name), h, &out)
	return out, err
}

// DeleteHub removes a hub that has no projects.
func (c *Client) DeleteHub(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, apiPath("hubs", name), nil, nil)
}

// HubQuotas lists a hub's quota limits and their use.
func (c *Client) HubQuotas(ctx context.Context, name string) ([]QuotaUsage, error) {
	return list[QuotaUsage](ctx, c, apiPath("hubs", name, "quotas"))
}

// ListProjects lists every project.
func (c *Client) ListProjects(ctx context.Context) ([]Project, error) {
	return list[Project](ctx, c, apiPath("projects"))
}

// GetProject returns one project.
func (c *Client) GetProject(ctx context.Context, name string) (Project, error) {
	var p Project
	err := c.do(ctx, http.MethodGet, apiPath("projects", name), nil, &p)
	return p, err
}

// CreateProject makes a project with two new keys (see ListKeys).
func (c *Client) CreateProject(ctx context.Context, p CreateProject) (Project, error) {
	var out Project
	err := c.do(ctx, http.MethodPost, apiPath("projects"), p, &out)
	return out, err
}

// DeleteProject removes a project with its keys and deployments.
func (c *Client) DeleteProject(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, apiPath("projects", name), nil, nil)
}

// ListKeys returns a project's two keys.
func (c *Client) ListKeys(ctx context.Context, project string) (Keys, error) {
	var k Keys
	err := c.do(ctx, http.MethodGet, apiPath("projects", project, "keys"), nil, &k)
	return k, err
}

// RegenerateKey replaces key "key1" or "key2" of a project and returns both
// keys; the other keeps working.
func (c *Client) RegenerateKey(ctx context.Context, project, keyName string) (Keys, error) {
	var k Keys
	err := c.do(ctx, http.MethodPost, apiPath("projects", project, "keys", "regenerate"), RegenerateKey{KeyName: keyName}, &k)
	return k, err
}

// ListModels lists the catalog.
func (c *Client) ListModels(ctx context.Context) ([]Model, error) {
	return list[Model](ctx, c, apiPath("models"))
}

// GetModel returns one catalog model.
func (c *Client) GetModel(ctx context.Context, name string) (Model, error) {
	var m Model
	err := c.do(ctx, http.MethodGet, apiPath("models", name), nil, &m)
	return m, err
}

// CreateModel adds a model to the catalog.
func (c *Client) CreateModel(ctx context.Context, m Model) (Model, error) {
	var out Model
	err := c.do(ctx, http.MethodPost, apiPath("models"), m, &out)
	return out, err
}

// UpdateModel changes a model; see ModelUpdate.
func (c *Client) UpdateModel(ctx context.Context, name string, u ModelUpdate) (Model, error) {
	var out Model
	err := c.do(ctx, http.MethodPatch, apiPath("models", name), u, &out)
	return out, err
}

// DeleteModel removes a model no deployment uses.
func (c *Client) DeleteModel(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, apiPath("models", name), nil, nil)
}

// ListDeployments lists a project's deployments.
func (c *Client) ListDeployments(ctx context.Context, project string) ([]Deployment, error) {
	return list[Deployment](ctx, c, apiPath("projects", project, "deployments"))
}

// GetDeployment returns one deployment.
func (c *Client) GetDeployment(ctx context.Context, project, name string) (Deployment, error) {
	var d Deployment
	err := c.do(ctx, http.MethodGet, apiPath("projects", project, "deployments", name), nil, &d)
	return d, err
}

// CreateDeployment makes deployment d.Name in a project. It starts in state
// Creating; see WaitDeployment.
func (c *Client) CreateDeployment(ctx context.Context, project string, d Deployment) (Deployment, error) {
	var out Deployment
	err := c.do(ctx, http.MethodPost, apiPath("projects", project, "deployments"), d, &out)
	return out, err
}

// UpdateDeployment changes a deployment; see DeploymentUpdate.
func (c *Client) UpdateDeployment(ctx context.Context, project, name string, u DeploymentUpdate) (Deployment, error) {
	var out Deployment
	err := c.do(ctx, http.MethodPatch, apiPath("projects", project, "deployments", name), u, &out)
	return out, err
}

// DeleteDeployment starts deleting a deployment; WaitDeployment reports
// when it is gone.
func (c *Client) DeleteDeployment(ctx context.Context, project, name string) error {
	return c.do(ctx, http.MethodDelete, apiPath("projects", project, "deployments", name), nil, nil)
}

// WaitDeployment polls a deployment, backing off from 50 ms to 1 s, until
// its state is neither Creating nor Deleting, and returns it (its state may
// be Failed, with a Reason). Once a deleted deployment is gone it returns
// the server's 404, for which IsNotFound is true.
func (c *Client) WaitDeployment(ctx context.Context, project, name string) (Deployment, error) {
	const first, most = 50 * time.Millisecond, time.Second
	wait := first
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return Deployment{}, fmt.Errorf("wait for deployment %s: %w", name, ctx.Err())
		case <-timer.C:
		}
		d, err := c.GetDeployment(ctx, project, name)
		if err != nil {
			return Deployment{}, err
		}
		if d.ProvisioningState != "Creating" && d.ProvisioningState != "Deleting" {
			return d, nil
		}
		timer.Reset(wait)
		wait = min(wait*2, most)
	}
}
