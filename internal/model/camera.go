package model

import (
	"encoding/json"
	"net/url"
	"strings"
	"unicode"
)

// Camera is a video source pipelines read: an rtsp:// or rtsps:// URL, a
// local video file in the camera files directory (played in a loop), or
// "testsrc" (a built-in moving test scene); package camerainput decides
// which URLs are accepted.
type Camera struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	URL      string  `json:"url"`
	Username *string `json:"username"`
	Password *string `json:"password"`
	FPS      *int    `json:"fps"` // a hint; sources keep their own rate without it
}

// TestSource is the camera URL of the built-in moving test scene.
const TestSource = "testsrc"

// DecodeCamera reads a camera; a missing id is the slug of its name.
func DecodeCamera(raw json.RawMessage, loc ...any) (Camera, error) {
	r := newReader(loc...)
	c := decodeCamera(r, raw)
	return c, r.err()
}

func decodeCamera(r reader, raw json.RawMessage) Camera {
	var c Camera
	m, ok := r.object(raw)
	if !ok {
		return c
	}
	r.forbidExtra(m, "id", "name", "url", "username", "password", "fps")
	if v, present := m["name"]; present && !isNull(v) {
		if s, ok := r.at("name").str(v); ok {
			c.Name = strings.TrimSpace(s)
		}
	}
	if v, present := m["id"]; present && !isNull(v) {
		if s, ok := r.at("id").str(v); ok {
			c.ID = strings.TrimSpace(s)
		}
	}
	if c.ID == "" {
		c.ID = Slug(c.Name, "")
	}
	if c.ID == "" {
		r.at("id").fail("missing", "Field required (or a name to derive it from)")
	} else if msg := idProblem(c.ID); msg != "" {
		r.at("id").fail("value_error", "%s", msg)
	}
	if v, present := m["url"]; present && !isNull(v) {
		if s, ok := r.at("url").str(v); ok {
			c.URL = strings.TrimSpace(s)
		}
	}
	if c.URL == "" {
		r.at("url").fail("missing", "Field required: an rtsp:// or rtsps:// URL, a video file in the camera files directory, or 'testsrc'")
	} else if u, err := url.Parse(c.URL); err == nil && u.User != nil {
		r.at("url").fail("value_error", "put credentials in username and password, not in the URL")
	}
	c.Username, c.Password = r.optionalMember(m, "username"), r.optionalMember(m, "password")
	if v, present := m["fps"]; present && !isNull(v) {
		if n, ok := r.at("fps").integer(v, MinFPS, MaxFPS); ok {
			c.FPS = &n
		}
	}
	return c
}

// SourceURL is the URL ffmpeg opens, with the credentials inserted into
// rtsp:// and rtsps:// URLs. It holds secrets: never log or report it (see RedactedURL).
func (c Camera) SourceURL() string {
	u, err := url.Parse(c.URL)
	if err != nil || c.Username == nil || !(strings.EqualFold(u.Scheme, "rtsp") || strings.EqualFold(u.Scheme, "rtsps")) {
		return c.URL
	}
	if c.Password != nil {
		u.User = url.UserPassword(*c.Username, *c.Password)
	} else {
		u.User = url.User(*c.Username)
	}
	return u.String()
}

// MarshalJSON never writes the password: listings, logs and diagnostics
// show only whether one is set.
func (c Camera) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field("id", c.ID)
	w.field("name", c.Name)
	w.field("url", c.URL)
	w.field("username", c.Username)
	w.field("password_set", c.Password != nil)
	w.field("fps", c.FPS)
	return w.bytes()
}

// storedCamera is a camera as the settings file keeps it, password included.
type storedCamera struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	URL      string  `json:"url"`
	Username *string `json:"username"`
	Password *string `json:"password"`
	FPS      *int    `json:"fps"`
}

// idProblem says why id cannot name a stored object (it appears in URL
// paths and log file names), or "": letters (any script), digits, '-', '_'
// and '.', at most 200 characters, and not "." or "..".
func idProblem(id string) string {
	switch {
	case len(id) > 200:
		return "Use at most 200 characters"
	case id == "." || id == "..":
		return "'.' and '..' cannot be ids"
	case strings.ContainsFunc(id, func(c rune) bool {
		return !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_' || c == '.')
	}):
		return "Use only letters, digits, '-', '_' and '.' (no '/', spaces or control characters)"
	}
	return ""
}
