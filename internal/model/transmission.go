package model

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	// LocalHost is the host_server_id of transmissions served by this server
	// when it is the core.
	LocalHost = "local"
)

// Transmission is the durable configuration of one stream and its outputs.
// Members the API does not know are kept in Extra and written back unchanged.
type Transmission struct {
	ID             string
	Name           string
	Enabled        bool
	HostServerID   string
	Path           string
	Placeholder    Placeholder
	Arbitration    Arbitration
	CameraControls *CameraControls
	Outputs        []Output
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Extra          map[string]json.RawMessage
}

// CameraControls links a transmission to a PTZ camera.
type CameraControls struct {
	Enabled  bool    `json:"enabled"`
	CameraID *string `json:"camera_id"`
}

// Output is one way of watching a transmission. Members the API does not know
// (the runtime reads "resize_mode") are kept in Extra.
type Output struct {
	ID       string
	Protocol Protocol
	Enabled  bool
	// Path pins the output's engine path (slugged; "" when not pinned):
	// without it the path follows the transmission's (see OutputPath).
	Path           string
	Resolution     *Resolution
	FPSLimit       *int
	BitrateKbps    *int
	LatencyProfile LatencyProfile
	Authentication *Authentication
	Extra          map[string]json.RawMessage
}

// Resolution is an output frame size.
type Resolution struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Authentication is the read/playback credential of an output. It applies
// only when Enabled and both Username and Password are set (see Applies).
//
// The password is write-only in the API: answers carry "password": null and
// "password_set" (see Settings.ForAnswer), and a write that omits it or
// sends null keeps the stored one (see KeepOutputPasswords).
type Authentication struct {
	Enabled  bool
	Username *string
	Password *string
	// answer marks a copy made for an API answer: it carries
	// "password_set", and passwordSet says what it is.
	answer, passwordSet bool
	// cleared marks a decoded "password": "", which removes the stored
	// password where null or no member keeps it.
	cleared bool
}

// MarshalJSON writes the credential; an answer's copy adds "password_set",
// which tells whether a password is stored even when the answer leaves it
// out.
func (a Authentication) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field("enabled", a.Enabled)
	w.field("username", a.Username)
	w.field("password", a.Password)
	if a.answer {
		w.field("password_set", a.passwordSet)
	}
	return w.bytes()
}

// Applies reports whether viewers must present these credentials.
func (a *Authentication) Applies() bool {
	return a != nil && a.Enabled && a.Username != nil && *a.Username != "" && a.Password != nil && *a.Password != ""
}

// Limits of output fields.
const (
	MaxWidth      = 7680
	MaxHeight     = 4320
	MinFPS        = 1
	MaxFPS        = 120
	MinBitrate    = 64
	MaxBitrate    = 250000
	maxNameLength = 200
)

var (
	transmissionFields = []string{"id", "name", "enabled", "host_server_id", "path", "placeholder", "arbitration", "camera_controls", "outputs", "created_at", "updated_at"}
	// createFields are what POST /transmissions accepts: the server owns the
	// id and the timestamps.
	createFields = []string{"name", "enabled", "host_server_id", "path", "placeholder", "arbitration", "camera_controls", "outputs"}
	outputFields = []string{"id", "protocol", "enabled", "path", "resolution", "fps_limit", "bitrate_kbps", "latency_profile", "authentication"}
)

// How a transmission body is read.
type decodeMode int

const (
	decodeStored  decodeMode = iota // settings file or PATCH: everything optional
	decodeReplace                   // PUT: name and path required
	decodeCreate                    // POST: name and path required, server-owned members refused
)

// DecodeTransmission reads a full transmission (stored, or inside a
// settings PATCH): unknown members are kept; a missing id is generated;
// missing timestamps stay zero for the caller to fill.
func DecodeTransmission(raw json.RawMessage, loc ...any) (Transmission, error) {
	return decodeTransmissionAs(raw, decodeStored, loc)
}

// DecodeTransmissionReplace reads a PUT /transmissions/{id} body: as
// DecodeTransmission, but name and path are required, as on create (a
// PUT of {} would otherwise wipe the transmission).
func DecodeTransmissionReplace(raw json.RawMessage, loc ...any) (Transmission, error) {
	return decodeTransmissionAs(raw, decodeReplace, loc)
}

// DecodeTransmissionCreate reads a POST /transmissions body: name and path are
// required and any other member, id and timestamps included, is refused.
func DecodeTransmissionCreate(raw json.RawMessage, loc ...any) (Transmission, error) {
	return decodeTransmissionAs(raw, decodeCreate, loc)
}

func decodeTransmissionAs(raw json.RawMessage, mode decodeMode, loc []any) (Transmission, error) {
	r := newReader(loc...)
	t := decodeTransmission(r, raw, mode)
	return t, r.err()
}

func decodeTransmission(r reader, raw json.RawMessage, mode decodeMode) Transmission {
	create := mode == decodeCreate
	t := Transmission{
		Enabled:      true,
		HostServerID: LocalHost,
		Placeholder:  PlaceholderGray,
		Arbitration:  ArbitrationPriorityLatest,
	}
	m, ok := r.object(raw)
	if !ok {
		return t
	}
	if create {
		r.forbidExtra(m, createFields...)
	} else {
		t.Extra = extras(m, transmissionFields)
	}
	if mode != decodeStored {
		for _, k := range []string{"name", "path"} {
			if v, present := m[k]; !present || isNull(v) {
				r.at(k).fail("missing", "Field required")
			}
		}
	}

	if v, present := m["id"]; present && !create && !isNull(v) {
		t.ID, _ = r.at("id").str(v)
	}
	if t.ID == "" {
		t.ID = uuid.NewString()
	}
	if v, present := m["name"]; present && !isNull(v) {
		if s, ok := r.at("name").str(v); ok {
			t.Name = strings.TrimSpace(s)
			if len(t.Name) > maxNameLength {
				r.at("name").fail("string_too_long", "String should have at most %d characters", maxNameLength)
			}
		}
	}
	if v, present := m["enabled"]; present && !isNull(v) {
		t.Enabled, _ = r.at("enabled").boolean(v)
	}
	if v, present := m["host_server_id"]; present {
		s, _ := r.at("host_server_id").optionalString(v)
		t.HostServerID = NormalizeHostID(s)
	}
	path := ""
	if v, present := m["path"]; present && !isNull(v) {
		path, _ = r.at("path").str(v)
	}
	// The id stands in for an empty path; slugged too, so that decoding a
	// transmission twice gives the same path.
	t.Path = Slug(path, Slug(t.ID, t.ID))
	if v, present := m["placeholder"]; present && !isNull(v) {
		t.Placeholder, _ = enum(r.at("placeholder"), v, PlaceholderGray, PlaceholderBlack)
	}
	if v, present := m["arbitration"]; present && !isNull(v) {
		t.Arbitration, _ = enum(r.at("arbitration"), v, ArbitrationLatest, ArbitrationPriorityLatest)
	}
	if v, present := m["camera_controls"]; present && !isNull(v) {
		t.CameraControls = decodeCameraControls(r.at("camera_controls"), v)
	}
	if v, present := m["outputs"]; present && !isNull(v) {
		items, _ := r.at("outputs").list(v)
		t.Outputs = make([]Output, 0, len(items))
		for i, item := range items {
			t.Outputs = append(t.Outputs, decodeOutput(r.at("outputs").at(i), item))
		}
	}
	if n := t.ExtraBytes(); n > MaxExtraBytes {
		r.fail("value_error", "Unknown members take %d bytes of JSON here (the transmission's and its outputs'), more than the %d allowed: remove them or keep that data elsewhere", n, MaxExtraBytes)
	}
	if !create {
		if v, present := m["created_at"]; present && !isNull(v) {
			t.CreatedAt, _ = r.at("created_at").timestamp(v)
		}
		if v, present := m["updated_at"]; present && !isNull(v) {
			t.UpdatedAt, _ = r.at("updated_at").timestamp(v)
		}
	}
	t.checkEnginePaths(r)
	return t
}

// NormalizeHostID trims and lower-cases a server id; empty means local.
func NormalizeHostID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return LocalHost
	}
	return s
}

func decodeCameraControls(r reader, raw json.RawMessage) *CameraControls {
	m, ok := r.object(raw)
	if !ok {
		return nil
	}
	r.forbidExtra(m, "enabled", "camera_id")
	cc := &CameraControls{}
	if v, present := m["enabled"]; present && !isNull(v) {
		cc.Enabled, _ = r.at("enabled").boolean(v)
	}
	cc.CameraID = r.optionalMember(m, "camera_id")
	if cc.Enabled && cc.CameraID == nil {
		r.at("camera_id").fail("value_error", "camera_id is required when camera_controls.enabled is true")
	}
	return cc
}

func decodeOutput(r reader, raw json.RawMessage) Output {
	o := Output{Enabled: true, LatencyProfile: LatencyNormal}
	m, ok := r.object(raw)
	if !ok {
		return o
	}
	o.Extra = extras(m, outputFields)
	if v, present := m["id"]; present && !isNull(v) {
		if s, ok := r.at("id").str(v); ok {
			o.ID = strings.TrimSpace(s)
		}
	}
	if o.ID == "" {
		o.ID = uuid.NewString()
	}
	if v, present := m["protocol"]; present {
		o.Protocol, _ = enum(r.at("protocol"), v, ProtocolHLS, ProtocolRTSP, ProtocolWebRTC)
	} else {
		r.at("protocol").fail("missing", "Field required")
	}
	if v, present := m["enabled"]; present && !isNull(v) {
		o.Enabled, _ = r.at("enabled").boolean(v)
	}
	if v, present := m["path"]; present && !isNull(v) {
		if s, ok := r.at("path").str(v); ok {
			o.Path = Slug(s, "")
			if o.Path == "" && strings.TrimSpace(s) != "" {
				r.at("path").fail("value_error", "path %q has no letter or digit: give the engine path to pin (for example the transmission's path), or leave it empty", s)
			}
		}
	}
	if v, present := m["resolution"]; present && !isNull(v) {
		o.Resolution = decodeResolution(r.at("resolution"), v)
	}
	if v, present := m["fps_limit"]; present && !isNull(v) {
		if n, ok := r.at("fps_limit").integer(v, MinFPS, MaxFPS); ok {
			o.FPSLimit = &n
		}
	}
	if v, present := m["bitrate_kbps"]; present && !isNull(v) {
		if n, ok := r.at("bitrate_kbps").integer(v, MinBitrate, MaxBitrate); ok {
			o.BitrateKbps = &n
		}
	}
	if v, present := m["latency_profile"]; present && !isNull(v) {
		o.LatencyProfile, _ = enum(r.at("latency_profile"), v, LatencyNormal, LatencyLow, LatencyUltraLow)
	}
	if v, present := m["authentication"]; present && !isNull(v) {
		o.Authentication = decodeAuthentication(r.at("authentication"), v)
	}
	return o
}

func decodeResolution(r reader, raw json.RawMessage) *Resolution {
	m, ok := r.object(raw)
	if !ok {
		return nil
	}
	r.forbidExtra(m, "width", "height")
	res := &Resolution{}
	for _, f := range []struct {
		key string
		max int
		dst *int
	}{{"width", MaxWidth, &res.Width}, {"height", MaxHeight, &res.Height}} {
		v, present := m[f.key]
		if !present {
			r.at(f.key).fail("missing", "Field required")
			continue
		}
		*f.dst, _ = r.at(f.key).integer(v, 1, f.max)
	}
	return res
}

func decodeAuthentication(r reader, raw json.RawMessage) *Authentication {
	m, ok := r.object(raw)
	if !ok {
		return nil
	}
	// password_set is what answers carry; sending it back changes nothing.
	r.forbidExtra(m, "enabled", "username", "password", "password_set")
	a := &Authentication{}
	if v, present := m["enabled"]; present && !isNull(v) {
		a.Enabled, _ = r.at("enabled").boolean(v)
	}
	a.Username, a.Password = r.optionalMember(m, "username"), r.optionalMember(m, "password")
	a.cleared = a.Password == nil && string(m["password"]) == `""`
	return a
}

// MaxExtraBytes bounds the unknown members kept of one transmission, its
// outputs' included, measured as the settings file holds them (see
// ExtraBytes). They are kept so that clients' own data round-trips, but
// every later write carries them, so a hostile PUT must not grow the
// file. MaxExtraBytesTotal bounds them across the whole settings.
const (
	MaxExtraBytes      = 16 << 10
	MaxExtraBytesTotal = 256 << 10
)

// extras returns the members of m not named in known, in the form the
// settings file holds them: compacted and with <, > and & escaped as
// encoding/json writes them (a 6x growth on write otherwise went
// unmeasured).
func extras(m map[string]json.RawMessage, known []string) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, v := range m {
		if slices.Contains(known, k) {
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		if written, err := json.Marshal(v); err == nil {
			v = written
		}
		out[k] = v
	}
	return out
}

// ExtraBytes is the size of the unknown members of t and of its outputs
// as written: quoted keys, colons and values.
func (t *Transmission) ExtraBytes() int {
	n := extraBytes(t.Extra)
	for i := range t.Outputs {
		n += extraBytes(t.Outputs[i].Extra)
	}
	return n
}

func extraBytes(m map[string]json.RawMessage) int {
	n := 0
	for k, v := range m {
		key, _ := json.Marshal(k)
		n += len(key) + 1 + len(v)
	}
	return n
}

// MarshalJSON writes the documented fields in order, then the extra ones.
func (t Transmission) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field("id", t.ID)
	w.field("name", t.Name)
	w.field("enabled", t.Enabled)
	w.field("host_server_id", t.HostServerID)
	w.field("path", t.Path)
	w.field("placeholder", t.Placeholder)
	w.field("arbitration", t.Arbitration)
	w.field("camera_controls", t.CameraControls)
	outputs := t.Outputs
	if outputs == nil {
		outputs = []Output{}
	}
	w.field("outputs", outputs)
	w.field("created_at", FormatTime(t.CreatedAt))
	w.field("updated_at", FormatTime(t.UpdatedAt))
	w.extras(t.Extra)
	return w.bytes()
}

// MarshalJSON writes the documented fields in order, then the extra ones.
func (o Output) MarshalJSON() ([]byte, error) {
	var w objectWriter
	w.field("id", o.ID)
	w.field("protocol", o.Protocol)
	w.field("enabled", o.Enabled)
	w.field("resolution", o.Resolution)
	w.field("fps_limit", o.FPSLimit)
	w.field("bitrate_kbps", o.BitrateKbps)
	w.field("latency_profile", o.LatencyProfile)
	w.field("authentication", o.Authentication)
	if o.Path != "" {
		w.field("path", o.Path) // only when pinned: unpinned outputs look as before
	}
	w.extras(o.Extra)
	return w.bytes()
}

// UnmarshalJSON reads a stored transmission (see DecodeTransmission).
func (t *Transmission) UnmarshalJSON(raw []byte) error {
	v, err := DecodeTransmission(raw)
	if err != nil {
		return err
	}
	*t = v
	return nil
}
