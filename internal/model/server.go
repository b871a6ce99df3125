package model

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
)

// ProcessingServer is a server registered on the core that hosts
// transmissions (and runs pipelines) whose host_server_id is its id. The
// core reaches its API at URL, with Basic auth when a username or password
// is set.
type ProcessingServer struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	URL      string  `json:"url"` // http(s)://host:port, no trailing slash
	Username *string `json:"username"`
	Password *string `json:"password"`
}

// DecodeProcessingServer reads a processing server. The id is normalised
// like host_server_id (trimmed, lower-cased); a missing id is the slug of
// the name, a missing name is the id. "local" is reserved for the core.
func DecodeProcessingServer(raw json.RawMessage, loc ...any) (ProcessingServer, error) {
	r := newReader(loc...)
	p := decodeProcessingServer(r, raw)
	return p, r.err()
}

func decodeProcessingServer(r reader, raw json.RawMessage) ProcessingServer {
	var p ProcessingServer
	m, ok := r.object(raw)
	if !ok {
		return p
	}
	r.forbidExtra(m, "id", "name", "url", "username", "password")
	if v, present := m["name"]; present && !isNull(v) {
		if s, ok := r.at("name").str(v); ok {
			p.Name = strings.TrimSpace(s)
		}
	}
	if v, present := m["id"]; present && !isNull(v) {
		if s, ok := r.at("id").str(v); ok {
			p.ID = strings.ToLower(strings.TrimSpace(s))
		}
	}
	if p.ID == "" {
		p.ID = Slug(p.Name, "")
	}
	switch {
	case p.ID == "":
		r.at("id").fail("missing", "Field required (or a name to derive it from)")
	case p.ID == LocalHost:
		r.at("id").fail("value_error", "'local' is reserved for the core")
	case strings.ContainsFunc(p.ID, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
	}):
		r.at("id").fail("value_error", "Use only letters, digits, '-', '_' and '.'")
	}
	if p.Name == "" {
		p.Name = p.ID
	}
	if len(p.Name) > 200 {
		r.at("name").fail("string_too_long", "String should have at most 200 characters")
	}
	if v, present := m["url"]; present && !isNull(v) {
		if s, ok := r.at("url").str(v); ok {
			p.URL = strings.TrimRight(strings.TrimSpace(s), "/")
		}
	}
	if p.URL == "" {
		r.at("url").fail("missing", "Field required: the server's API address, e.g. http://10.0.0.5:8100")
	} else if msg := checkServerURL(p.URL); msg != "" {
		r.at("url").fail("value_error", "%s", msg)
	}
	p.Username, p.Password = r.optionalMember(m, "username"), r.optionalMember(m, "password")
	return p
}

// checkServerURL says what is wrong with a processing server URL, or "".
func checkServerURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "Not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "Use an http:// or https:// URL"
	case u.Hostname() == "":
		return "The URL needs a host"
	case u.User != nil:
		return "Put credentials in username and password, not in the URL"
	case u.RawQuery != "" || u.Fragment != "":
		return "The URL cannot have a query or a fragment"
	}
	if port := u.Port(); port == "" && strings.HasSuffix(u.Host, ":") {
		return "The URL has an empty port"
	}
	return ""
}

// Hostname is the host of the server's URL, without port or brackets.
func (p ProcessingServer) Hostname() string {
	u, err := url.Parse(p.URL)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// Endpoint is the server's URL followed by path (which starts with "/").
func (p ProcessingServer) Endpoint(path string) string {
	return strings.TrimRight(p.URL, "/") + path
}

// RewriteHost replaces the host of raw (any absolute URL) with host,
// keeping scheme, port, path and query; userinfo is dropped. IPv6 hosts are
// bracketed. raw comes back unchanged when it does not parse or has no host.
func RewriteHost(raw, host string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || host == "" {
		return raw
	}
	u.User = nil
	if port := u.Port(); port != "" {
		u.Host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	} else {
		u.Host = host
	}
	return u.String()
}

// MarshalJSON never writes the password: listings show only whether one
// is set.
func (p ProcessingServer) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field("id", p.ID)
	w.field("name", p.Name)
	w.field("url", p.URL)
	w.field("username", p.Username)
	w.field("password_set", p.Password != nil)
	return w.bytes()
}

// storedProcessingServer is a processing server as the settings file keeps
// it, password included.
type storedProcessingServer struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	URL      string  `json:"url"`
	Username *string `json:"username"`
	Password *string `json:"password"`
}
