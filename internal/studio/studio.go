// Package studio is Cerulean's web UI: server-rendered pages under /studio
// (html/template, embedded with embed), a little hand-written JavaScript and
// SVG charts drawn on the server. The Studio is a client of the management
// API: every page calls api.Client with the signed-in admin's token, so what
// it may do and how input is validated are exactly the API's, and the
// API's error messages are shown next to the form that caused them.
package studio

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are what the Studio needs from the server.
type Deps struct {
	// Logger gets one line per failed request; nil discards.
	Logger *slog.Logger
	// API returns a management client, pointed at the server itself, that
	// authenticates with the signed-in admin's token.
	API func(token string) *api.Client
	// PublicURL is the base URL clients reach the server at (for the
	// endpoint and code samples); nil or empty means the request's host.
	PublicURL func() string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionKey signs the session cookies: 32 random bytes.
	SessionKey []byte
	// HTTPClient sends the playground's requests without JavaScript; nil
	// means a client with a 2-minute timeout.
	HTTPClient *http.Client
}

// Studio serves the web UI. Create it with New.
type Studio struct {
	log      *slog.Logger
	apiFor   func(string) *api.Client
	public   func() string
	now      func() time.Time
	hc       *http.Client
	pages    map[string]*template.Template
	sessions *sessions
}

// New builds the Studio. It parses the embedded templates, so a broken
// template fails at start (and in the tests), not on a request; it panics
// when Deps lacks API or a 32-byte SessionKey, or a template is broken, as
// these are programming errors. Use Build to get them as an error.
func New(d Deps) *Studio {
	s, err := Build(d)
	if err != nil {
		panic(err)
	}
	return s
}

// Build is New returning its error.
func Build(d Deps) (*Studio, error) {
	if d.API == nil {
		return nil, errors.New("studio: Deps.API is required")
	}
	if len(d.SessionKey) < 32 {
		return nil, fmt.Errorf("studio: Deps.SessionKey must be 32 bytes, got %d", len(d.SessionKey))
	}
	s := &Studio{log: d.Logger, apiFor: d.API, public: d.PublicURL, now: d.Now, hc: d.HTTPClient}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 2 * time.Minute}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.sessions = newSessions(d.SessionKey, s.now)
	return s, nil
}

// parsePages parses layout.html with each page template.
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcMap()).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("studio: parse layout: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("studio: list templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("studio: parse %s: %w", name, err)
		}
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	return pages, nil
}

// csp is the Content-Security-Policy of every Studio page: only our own
// script, style and fetches; no inline script, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// secure sets the security headers of every Studio response.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title   string
	Signed  bool   // a session is signed in
	CSRF    string // the session's form token
	Project string // the project whose tabs the header shows, if any
	Tab     string // the current tab or section
	Flash   string // a one-line notice after a redirect
	Error   string // an error not tied to a field
	Refresh int    // seconds until the page reloads itself (0: never)
	Data    any
}

// render writes page name with status.
func (s *Studio) render(w http.ResponseWriter, status int, name string, v view) {
	t, ok := s.pages[name]
	if !ok {
		s.log.Error("studio: no such template", "name", name)
		http.Error(w, "internal error: missing page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("studio: render", "page", name, "err", err)
		http.Error(w, "internal error: the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// request is one signed-in request: its session and API client.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	sess *session
	api  *api.Client
}

func (q *request) ctx() context.Context { return q.r.Context() }

// view starts a page view for this session.
func (q *request) view(title, tab string, data any) view {
	return view{Title: title, Signed: true, CSRF: q.sess.csrf, Tab: tab, Project: q.r.PathValue("project"),
		Flash: q.r.URL.Query().Get("flash"), Data: data}
}

// handler is a signed-in page handler.
type handler func(q *request)

// authed wraps h: no session sends a browser to the sign-in page; a POST
// must carry the session's CSRF token.
func (s *Studio) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := s.sessions.get(r)
		if sess == nil {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				s.render(w, http.StatusUnauthorized, "signin", view{Title: "Sign in", Error: "Your session has ended: sign in again."})
				return
			}
			http.Redirect(w, r, "/studio/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
				return
			}
			if !s.sessions.checkCSRF(sess, r.PostForm.Get("csrf")) {
				s.render(w, http.StatusForbidden, "error", view{Title: "Form expired", Signed: true, CSRF: sess.csrf,
					Error: "The form's security token is missing or stale. Go back, reload the page and submit it again."})
				return
			}
		}
		h(&request{w: w, r: r, sess: sess, api: s.apiFor(sess.token)})
	})
}

// maxForm bounds a posted form (schemas and prompts included).
const maxForm = 1 << 20

// fail shows err: a rejected token ends the session, a 404 is a not-found
// page, anything else an error page with the API's message.
func (s *Studio) fail(q *request, err error) {
	var ae *api.Error
	status, msg := http.StatusBadGateway, "The management API could not be reached: "+err.Error()
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
			s.sessions.drop(q.sess)
			http.SetCookie(q.w, s.sessions.clearCookie())
			http.Redirect(q.w, q.r, "/studio/signin", http.StatusSeeOther)
			return
		case ae.Status == http.StatusNotFound:
			status, msg = http.StatusNotFound, ae.Message
		default:
			status, msg = ae.Status, ae.Message
			if status < 400 {
				status = http.StatusBadGateway
			}
		}
	}
	if status >= 500 {
		s.log.Warn("studio: request failed", "path", q.r.URL.Path, "err", err)
	}
	v := q.view(http.StatusText(status), "", nil)
	v.Error = msg
	s.render(q.w, status, "error", v)
}

// publicURL is the base URL clients use.
func (s *Studio) publicURL(r *http.Request) string {
	if s.public != nil {
		if u := strings.TrimRight(s.public(), "/"); u != "" {
			return u
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// seeOther redirects after a successful POST.
func seeOther(q *request, to string) { http.Redirect(q.w, q.r, to, http.StatusSeeOther) }
