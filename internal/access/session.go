package access

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// sessionCookie holds a login session: HttpOnly (scripts never see it) and
// SameSite=Strict (no other site's page sends it).
const sessionCookie = "toposync_session"

// maxSessions bounds the logins kept in memory; the oldest goes first.
const maxSessions = 256

// sessions are the UI's logins, in memory only: a restart logs everyone out.
type sessions struct {
	now func() time.Time
	ttl time.Duration

	mu      sync.Mutex
	expires map[string]time.Time
}

func newSessions(now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{now: now, ttl: ttl, expires: map[string]time.Time{}}
}

// open starts a session and returns its id.
func (s *sessions) open() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	id := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, exp := range s.expires {
		if !now.Before(exp) {
			delete(s.expires, k)
		}
	}
	for len(s.expires) >= maxSessions {
		var oldest string
		for k, exp := range s.expires {
			if oldest == "" || exp.Before(s.expires[oldest]) {
				oldest = k
			}
		}
		delete(s.expires, oldest)
	}
	s.expires[id] = now.Add(s.ttl)
	return id
}

func (s *sessions) valid(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.expires[id]
	return ok && s.now().Before(exp)
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.expires, id)
}

// Failed logins per client address are limited: after maxLoginFailures
// within loginFailureWindow the address gets 429 until the window ends.
const (
	maxLoginFailures   = 10
	loginFailureWindow = time.Minute
	maxLoginClients    = 4096 // addresses tracked; beyond, the oldest windows go
)

// loginFailures counts failed logins per client address.
type loginFailures struct {
	now func() time.Time

	mu    sync.Mutex
	count map[string]int
	since map[string]time.Time
}

func newLoginFailures(now func() time.Time) *loginFailures {
	return &loginFailures{now: now, count: map[string]int{}, since: map[string]time.Time{}}
}

// blocked reports whether addr used up its failures; retryAfter is when it
// may try again.
func (l *loginFailures) blocked(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	since, ok := l.since[addr]
	if !ok {
		return false, 0
	}
	left := loginFailureWindow - l.now().Sub(since)
	if left <= 0 {
		delete(l.since, addr)
		delete(l.count, addr)
		return false, 0
	}
	return l.count[addr] >= maxLoginFailures, left
}

func (l *loginFailures) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if since, ok := l.since[addr]; !ok || now.Sub(since) >= loginFailureWindow {
		if len(l.since) >= maxLoginClients {
			for a, t := range l.since {
				if now.Sub(t) >= loginFailureWindow || len(l.since) >= maxLoginClients {
					delete(l.since, a)
					delete(l.count, a)
				}
			}
		}
		l.since[addr], l.count[addr] = now, 0
	}
	l.count[addr]++
}

// clientAddr is the request's remote IP (without port).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// loginBody is what POST /api/auth/login takes: a username and password, or
// a token.
type loginBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

// login checks the credentials in the body against the API credentials and
// starts a session (a cookie) when they match.
func (g *Guard) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if !g.AuthRequired() {
		writeJSON(w, http.StatusOK, map[string]any{"authenticated": true, "auth_required": false})
		return
	}
	addr := clientAddr(r)
	if blocked, left := g.failures.blocked(addr); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(left.Seconds())+1))
		writeDetail(w, http.StatusTooManyRequests, "Too many failed sign-ins from this address: wait a minute and try again")
		return
	}
	var body loginBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	if err := dec.Decode(&body); err != nil {
		writeDetail(w, http.StatusBadRequest, "Send {\"username\": ..., \"password\": ...} or {\"token\": ...} as JSON")
		return
	}
	ok := false
	switch {
	case body.Token != "":
		ok = g.cfg.APIToken != "" && equal(body.Token, g.cfg.APIToken)
	case body.Username != "" || body.Password != "":
		ok = g.cfg.APIPassword != "" && equal(body.Username, g.cfg.APIUsername) && equal(body.Password, g.cfg.APIPassword)
	}
	if !ok {
		g.failures.fail(addr)
		g.log.Warn("failed login", "remote", r.RemoteAddr)
		writeDetail(w, http.StatusUnauthorized, "Wrong credentials: use the API username and password, or the API token, the service was started with")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: g.sessions.open(), Path: "/",
		MaxAge: int(g.cfg.SessionTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	writeJSON(w, http.StatusOK, map[string]any{"authenticated": true, "auth_required": true})
}

// logout ends the request's session, if any.
func (g *Guard) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		g.sessions.close(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]any{"authenticated": false, "auth_required": g.AuthRequired()})
}

// session is GET /api/auth/session: whether logins exist and how this
// request is authenticated (the UI shows "Sign out" from it).
func (g *Guard) session(w http.ResponseWriter, r *http.Request, who identity) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	_, cookieErr := r.Cookie(sessionCookie)
	writeJSON(w, http.StatusOK, map[string]any{
		"auth_required": g.AuthRequired(),
		"authenticated": who == apiClient,
		"session":       who == apiClient && cookieErr == nil,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}
