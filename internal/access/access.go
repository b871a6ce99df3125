// Package access decides who may use the HTTP API and the UI. One Guard
// wraps every route and, in this order:
//
//  1. refuses a request whose Origin (when present) is not the request's own
//     host: a foreign web page can send requests, but never on the
//     operator's behalf;
//  2. refuses a state-changing request whose body is not of a type the route
//     takes (application/json, or the ingest's image and raw types), so a
//     page cannot use the types browsers send without asking (text/plain,
//     forms);
//  3. refuses a Host that is a name other than a loopback name, this
//     machine's name or an allowed host, unless the request carries valid
//     credentials: DNS rebinding needs a name, and a rebinding page cannot
//     attach credentials;
//  4. when API credentials are configured, lets through only requests that
//     carry them (Basic, Bearer or a login session cookie); the sync
//     credentials of processing servers open only the distributed-settings
//     route.
//
// The Guard also serves the login endpoints and, for UI routes, a login page.
package access

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config says which credentials exist and which host names are expected.
type Config struct {
	// APIUsername and APIPassword (Basic) and APIToken (Bearer) protect
	// every route. With none set, the API is open (loopback use).
	APIUsername, APIPassword string
	APIToken                 string
	// SyncUsername and SyncPassword (Basic) and SyncToken (Bearer) are what
	// processing servers present; they open only SyncPrefix.
	SyncUsername, SyncPassword string
	SyncToken                  string
	SyncPrefix                 string
	// MachinePaths are paths outside /api/ that programs call (/metrics):
	// without credentials they get the API's JSON 401 and Basic
	// challenge, not the UI's sign-in page.
	MachinePaths []string
	// AllowedHosts are host names (without port) accepted besides loopback
	// names, IP literals and this machine's name: exact names, "*.example.com"
	// or ".example.com" for a domain and its subdomains, "*" for any.
	AllowedHosts []string
	// Hostname is this machine's name (os.Hostname), accepted as a host.
	Hostname string
	// BodyTypes lists the media types a state-changing request to path may
	// carry; nil means application/json only.
	BodyTypes func(path string) []string
	// SessionTTL is how long a login lasts; 12 hours when zero.
	SessionTTL time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// errHalfBasic is a username without a password or the reverse.
var errHalfBasic = errors.New("set both a username and a password, or neither")

// Check reports a configuration that cannot work: a username without a
// password or the reverse.
func (c Config) Check() error {
	if (c.APIUsername == "") != (c.APIPassword == "") {
		return fmt.Errorf("API credentials: %w", errHalfBasic)
	}
	if (c.SyncUsername == "") != (c.SyncPassword == "") {
		return fmt.Errorf("sync credentials: %w", errHalfBasic)
	}
	return nil
}

// Guard is the HTTP middleware described in the package comment.
type Guard struct {
	cfg      Config
	sessions *sessions
	failures *loginFailures
	log      *slog.Logger
}

// New returns a Guard for cfg (see Config.Check).
func New(cfg Config) *Guard {
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Guard{cfg: cfg, sessions: newSessions(cfg.Now, cfg.SessionTTL), failures: newLoginFailures(cfg.Now), log: cfg.Logger}
}

// AuthRequired reports whether API credentials are configured.
func (g *Guard) AuthRequired() bool {
	return g.cfg.APIPassword != "" || g.cfg.APIToken != ""
}

// identity is who a request's credentials say it comes from.
type identity int

const (
	anonymous identity = iota
	apiClient
	syncClient
)

// Paths the Guard answers itself.
const (
	LoginPath   = "/api/auth/login"
	LogoutPath  = "/api/auth/logout"
	SessionPath = "/api/auth/session"
)

// Wrap protects next.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg := g.originProblem(r); msg != "" {
			writeDetail(w, http.StatusForbidden, msg)
			return
		}
		if msg := g.bodyTypeProblem(r); msg != "" {
			writeDetail(w, http.StatusUnsupportedMediaType, msg)
			return
		}
		// Credentials from an address that sent too many wrong ones are
		// not even checked until its window ends (as failed sign-ins), so
		// guessing gains nothing on any route.
		limited := g.AuthRequired() && r.Header.Get("Authorization") != ""
		if limited {
			if blocked, left := g.failures.blocked(clientAddr(r)); blocked {
				w.Header().Set("Retry-After", strconv.Itoa(int(left.Seconds())+1))
				writeDetail(w, http.StatusTooManyRequests, "Too many requests with wrong credentials from this address: wait a minute and try again")
				return
			}
		}
		who := g.identify(r)
		if limited && who == anonymous {
			g.failures.fail(clientAddr(r))
		}
		if who == anonymous {
			if msg := g.hostProblem(r.Host); msg != "" {
				writeDetail(w, http.StatusForbidden, msg)
				return
			}
		}
		switch r.URL.Path {
		case LoginPath:
			g.login(w, r)
			return
		case LogoutPath:
			g.logout(w, r)
			return
		}
		if !g.allowed(who, r) {
			g.challenge(w, r)
			return
		}
		if r.URL.Path == SessionPath {
			g.session(w, r, who)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// allowed applies the credential scopes: with API credentials configured,
// only API clients pass, except that sync clients reach the sync route; the
// sync route needs sync (or API) credentials whenever sync credentials exist.
func (g *Guard) allowed(who identity, r *http.Request) bool {
	if who == apiClient {
		return true
	}
	if g.isSyncRoute(r.URL.Path) && g.syncConfigured() {
		return who == syncClient
	}
	return !g.AuthRequired()
}

func (g *Guard) isSyncRoute(path string) bool {
	return g.cfg.SyncPrefix != "" && strings.HasPrefix(path, g.cfg.SyncPrefix)
}

func (g *Guard) syncConfigured() bool {
	return g.cfg.SyncPassword != "" || g.cfg.SyncToken != ""
}

// identify checks the request's credentials. Credentials that match
// nothing count as none: a processing server's API may be sent a core's
// Basic header it does not check.
func (g *Guard) identify(r *http.Request) identity {
	if user, pass, ok := r.BasicAuth(); ok {
		switch {
		case g.cfg.APIPassword != "" && equal(user, g.cfg.APIUsername) && equal(pass, g.cfg.APIPassword):
			return apiClient
		case g.cfg.SyncPassword != "" && equal(user, g.cfg.SyncUsername) && equal(pass, g.cfg.SyncPassword):
			return syncClient
		}
		return anonymous
	}
	if token, ok := bearer(r); ok {
		switch {
		case g.cfg.APIToken != "" && equal(token, g.cfg.APIToken):
			return apiClient
		case g.cfg.SyncToken != "" && equal(token, g.cfg.SyncToken):
			return syncClient
		}
		return anonymous
	}
	if c, err := r.Cookie(sessionCookie); err == nil && g.sessions.valid(c.Value) {
		return apiClient
	}
	return anonymous
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// originProblem refuses an Origin that is not the request's own host (or
// the literal "null" of sandboxed pages and redirects).
func (g *Guard) originProblem(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Sprintf("Cross-origin request refused: Origin %q is not this server (%s); use the UI served here, or call the API without a browser", origin, r.Host)
	}
	if !strings.EqualFold(withDefaultPort(u.Host, u.Scheme), withDefaultPort(r.Host, scheme(r))) {
		return fmt.Sprintf("Cross-origin request refused: Origin %q is not this server (%s); use the UI served here, or call the API without a browser", origin, r.Host)
	}
	return ""
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// withDefaultPort spells host:port with the scheme's port when none is
// given, so "example:80" and "example" compare equal.
func withDefaultPort(host, scheme string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// stateChanging are the methods whose body the Guard checks.
var stateChanging = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// bodyTypeProblem refuses a state-changing request whose Content-Type is
// not one the route takes. A request without a body may omit it
// (curl -X POST .../engine/start).
func (g *Guard) bodyTypeProblem(r *http.Request) string {
	if !slices.Contains(stateChanging, r.Method) {
		return ""
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if r.ContentLength == 0 {
			return ""
		}
		return "Content-Type is missing: send the body as application/json"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Sprintf("Content-Type %q cannot be parsed: send application/json", ct)
	}
	types := []string{"application/json"}
	if g.cfg.BodyTypes != nil {
		if t := g.cfg.BodyTypes(r.URL.Path); t != nil {
			types = t
		}
	}
	if !slices.Contains(types, mt) {
		return fmt.Sprintf("Content-Type %q is not accepted here: send %s", mt, strings.Join(types, " or "))
	}
	return ""
}

// hostProblem refuses a Host header that names a host this server does not
// know as itself.
func (g *Guard) hostProblem(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if g.hostAllowed(host) {
		return ""
	}
	return fmt.Sprintf("Host %q is not allowed: use this server's IP address or localhost, add the name to TOPOSYNC_STREAMING_ALLOWED_HOSTS, or send API credentials", hostport)
}

func (g *Guard) hostAllowed(host string) bool {
	if host == "" || net.ParseIP(host) != nil {
		return true // HTTP/1.0 without Host, or an IP literal: no rebinding
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "localhost.localdomain" {
		return true
	}
	if me := strings.ToLower(g.cfg.Hostname); me != "" && (host == me || host == me+".local") {
		return true
	}
	for _, a := range g.cfg.AllowedHosts {
		a = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(a), "."))
		switch {
		case a == "*":
			return true
		case strings.HasPrefix(a, "*.") || strings.HasPrefix(a, "."):
			domain := strings.TrimPrefix(strings.TrimPrefix(a, "*"), ".")
			if host == domain || strings.HasSuffix(host, "."+domain) {
				return true
			}
		case a == host:
			return true
		}
	}
	return false
}

// uiHeader marks the UI's own requests: their 401s carry no Basic
// challenge, so the browser shows the app's login instead of its dialog.
const uiHeader = "X-Requested-With"

// challenge answers a request without the credentials it needs: a JSON 401
// on API routes, the login page on UI routes.
func (g *Guard) challenge(w http.ResponseWriter, r *http.Request) {
	var schemes []string
	api := strings.HasPrefix(r.URL.Path, "/api/") || slices.Contains(g.cfg.MachinePaths, r.URL.Path)
	basic := g.cfg.APIPassword != "" || (g.isSyncRoute(r.URL.Path) && g.cfg.SyncPassword != "")
	// A Basic challenge makes browsers show their own dialog instead of the
	// page: only API clients other than the UI get one.
	if basic && api && r.Header.Get(uiHeader) == "" {
		schemes = append(schemes, `Basic realm="toposync-streaming", charset="UTF-8"`)
	}
	schemes = append(schemes, `Bearer realm="toposync-streaming"`)
	w.Header().Set("WWW-Authenticate", strings.Join(schemes, ", "))
	w.Header().Set("Cache-Control", "no-store")
	if api || r.Method != http.MethodGet && r.Method != http.MethodHead {
		what := "API credentials: Basic auth (TOPOSYNC_STREAMING_API_USERNAME and TOPOSYNC_STREAMING_API_PASSWORD) or a Bearer token (TOPOSYNC_STREAMING_API_TOKEN)"
		if g.isSyncRoute(r.URL.Path) && g.syncConfigured() {
			what = "the sync credentials (TOPOSYNC_STREAMING_SYNC_USERNAME and TOPOSYNC_STREAMING_SYNC_PASSWORD, or TOPOSYNC_STREAMING_SYNC_BEARER_TOKEN)"
		}
		writeDetail(w, http.StatusUnauthorized, "Authentication required: send "+what)
		return
	}
	serveLoginPage(w, g.cfg.APIPassword != "", g.cfg.APIToken != "")
}
