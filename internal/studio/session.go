package studio

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sessions: the admin token stays on the server, in memory, under a random
// 32-byte session id. The cookie holds only "id.expiry.mac", where mac is
// HMAC-SHA256 over "id.expiry" with Deps.SessionKey, so a forged or altered
// cookie is rejected before any lookup. The cookie is HttpOnly,
// SameSite=Lax, Path=/studio and Secure when the request came over TLS.
// Sessions last sessionTTL from sign-in and end at sign-out, when the API
// rejects the token, or when the server restarts (they are not stored).
// Each session has its own CSRF token, put in a hidden field of every form
// and checked on every POST.

// cookieName is the session cookie.
const cookieName = "cerulean_studio"

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept in memory; the oldest go first.
const maxSessions = 1000

// session is one signed-in browser.
type session struct {
	id      string
	token   string // the admin token
	csrf    string
	expires time.Time
}

// sessions are the signed-in browsers. Safe for concurrent use.
type sessions struct {
	key []byte
	now func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(key []byte, now func() time.Time) *sessions {
	return &sessions{key: append([]byte(nil), key...), now: now, byID: map[string]*session{}}
}

// randomID is 32 random bytes, base64url.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) mac(payload string) string {
	m := hmac.New(sha256.New, ss.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// create starts a session for token and returns its cookie.
func (ss *sessions) create(token string, secure bool) (*session, *http.Cookie) {
	now := ss.now()
	s := &session{id: randomID(), token: token, csrf: randomID(), expires: now.Add(sessionTTL)}
	ss.mu.Lock()
	ss.pruneLocked(now)
	if len(ss.byID) >= maxSessions {
		var oldest *session
		for _, o := range ss.byID {
			if oldest == nil || o.expires.Before(oldest.expires) {
				oldest = o
			}
		}
		delete(ss.byID, oldest.id)
	}
	ss.byID[s.id] = s
	ss.mu.Unlock()
	payload := s.id + "." + strconv.FormatInt(s.expires.Unix(), 10)
	return s, &http.Cookie{
		Name: cookieName, Value: payload + "." + ss.mac(payload), Path: "/studio",
		Expires: s.expires, MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

func (ss *sessions) pruneLocked(now time.Time) {
	for id, s := range ss.byID {
		if !now.Before(s.expires) {
			delete(ss.byID, id)
		}
	}
}

// get returns the request's live session, or nil.
func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return nil
	}
	payload := parts[0] + "." + parts[1]
	if !hmac.Equal([]byte(parts[2]), []byte(ss.mac(payload))) {
		return nil
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	now := ss.now()
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[parts[0]]
	if s == nil || !now.Before(s.expires) {
		return nil
	}
	return s
}

// checkCSRF reports whether a posted form token is the session's.
func (ss *sessions) checkCSRF(s *session, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// drop ends a session.
func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	delete(ss.byID, s.id)
	ss.mu.Unlock()
}

// clearCookie deletes the session cookie in the browser.
func (ss *sessions) clearCookie() *http.Cookie {
	return &http.Cookie{Name: cookieName, Value: "", Path: "/studio", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// signinPage is the data of the sign-in form.
type signinPage struct {
	Next string
}

// safeNext keeps a post-sign-in redirect inside the Studio.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/studio") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/studio/"
	}
	return next
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// signinForm shows the sign-in form (or goes home when signed in).
func (s *Studio) signinForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if s.sessions.get(r) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "signin", view{Title: "Sign in", Data: signinPage{Next: next}})
}

// signin checks the token against the API and starts a session. The form
// has no CSRF token (there is no session yet); SameSite=Lax cookies and the
// fact that it only signs in with a token the poster knows make that safe.
func (s *Studio) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read: "+err.Error(), http.StatusBadRequest)
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	next := safeNext(r.PostForm.Get("next"))
	fail := func(status int, msg string) {
		s.render(w, status, "signin", view{Title: "Sign in", Error: msg, Data: signinPage{Next: next}})
	}
	if token == "" {
		fail(http.StatusBadRequest, "Enter the admin token.")
		return
	}
	if _, err := s.apiFor(token).ListHubs(r.Context()); err != nil {
		if status, ok := apiStatus(err); ok && (status == http.StatusUnauthorized || status == http.StatusForbidden) {
			fail(http.StatusUnauthorized, "The server did not accept this token. It is printed by `cerulean serve` and kept in the data folder.")
			return
		}
		s.log.Warn("studio: sign-in could not reach the API", "err", err)
		fail(http.StatusBadGateway, "The management API could not be reached: "+err.Error())
		return
	}
	_, c := s.sessions.create(token, r.TLS != nil)
	http.SetCookie(w, c)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signout ends the session (a POST with the CSRF token).
func (s *Studio) signout(q *request) {
	s.sessions.drop(q.sess)
	http.SetCookie(q.w, s.sessions.clearCookie())
	http.Redirect(q.w, q.r, "/studio/signin", http.StatusSeeOther)
}
