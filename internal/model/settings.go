package model

import (
	"encoding/json"
	"fmt"
	"time"
)

// Settings is the streaming configuration: every transmission and the engine.
type Settings struct {
	Transmissions []Transmission  `json:"transmissions"`
	Engine        EngineSettings  `json:"engine"`
	Runtime       RuntimeSettings `json:"runtime"`
}

// DefaultSettings are the settings of a fresh install.
func DefaultSettings() Settings {
	return Settings{Transmissions: []Transmission{}, Engine: DefaultEngineSettings(), Runtime: DefaultRuntimeSettings()}
}

// DecodeSettings reads a whole settings document. Missing members take their
// defaults, unknown top-level members are refused, and transmissions missing
// timestamps get now. The result is also checked for conflicts (Check).
func DecodeSettings(raw json.RawMessage, now time.Time, loc ...any) (Settings, error) {
	r := newReader(loc...)
	s := decodeSettings(r, raw, now)
	if err := r.err(); err != nil {
		return s, err
	}
	return s, s.Check()
}

func decodeSettings(r reader, raw json.RawMessage, now time.Time) Settings {
	s := DefaultSettings()
	m, ok := r.object(raw)
	if !ok {
		return s
	}
	r.forbidExtra(m, "transmissions", "engine", "runtime")
	if v, present := m["transmissions"]; present && !isNull(v) {
		items, _ := r.at("transmissions").list(v)
		extra := 0
		for i, item := range items {
			t := decodeTransmission(r.at("transmissions").at(i), item, decodeStored)
			t.StampMissing(now)
			s.Transmissions = append(s.Transmissions, t)
			extra += t.ExtraBytes()
		}
		if extra > MaxExtraBytesTotal {
			r.at("transmissions").fail("value_error", "Unknown members of the transmissions and their outputs take %d bytes of JSON, more than the %d allowed in all: remove some or keep that data elsewhere", extra, MaxExtraBytesTotal)
		}
	}
	if v, present := m["engine"]; present && !isNull(v) {
		s.Engine = decodeEngine(r.at("engine"), v)
	}
	if v, present := m["runtime"]; present && !isNull(v) {
		s.Runtime = decodeRuntime(r.at("runtime"), v)
	}
	return s
}

// StampMissing sets the timestamps that are still zero to now.
func (t *Transmission) StampMissing(now time.Time) {
	now = now.UTC().Truncate(time.Microsecond)
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = now
	}
}

// Check enforces the rules that span transmissions: ids are unique; on one
// host no two transmissions share a path or an engine path; inside a
// transmission output ids and engine paths are unique.
func (s *Settings) Check() error {
	ids := map[string]bool{}
	type hostPath struct{ host, path string }
	type claim struct {
		id  string
		own bool // the transmission's own path, not an output's
	}
	owner := map[hostPath]claim{}
	for i := range s.Transmissions {
		t := &s.Transmissions[i]
		if ids[t.ID] {
			return &ConflictError{Msg: fmt.Sprintf("Duplicate transmission id: %s", t.ID)}
		}
		ids[t.ID] = true

		outputIDs := map[string]bool{}
		for _, o := range t.Outputs {
			if outputIDs[o.ID] {
				return &ConflictError{Msg: fmt.Sprintf("Duplicate output id in transmission '%s': %s", t.ID, o.ID)}
			}
			outputIDs[o.ID] = true
		}
		if err := t.checkOutputPathsDistinct(); err != nil {
			return err
		}

		for _, p := range t.EnginePaths() {
			key := hostPath{t.HostServerID, p}
			mine := claim{id: t.ID, own: p == t.Path}
			if other, taken := owner[key]; taken {
				if other.own && mine.own {
					return &ConflictError{Msg: fmt.Sprintf("Duplicate transmission path for host_server_id='%s': %s", t.HostServerID, p)}
				}
				return &ConflictError{Msg: fmt.Sprintf("Engine path '%s' on host_server_id='%s' is used by transmissions '%s' and '%s'", p, t.HostServerID, other.id, t.ID)}
			}
			owner[key] = mine
		}
	}
	return nil
}

// checkOutputPathsDistinct refuses two enabled outputs publishing to one
// engine path (possible through the "path" extra): one path has one publisher.
func (t *Transmission) checkOutputPathsDistinct() error {
	byPath := map[string]string{}
	for _, o := range t.EnabledOutputs() {
		p := t.OutputPath(o)
		if other, taken := byPath[p]; taken {
			return &ConflictError{Msg: fmt.Sprintf("Outputs '%s' and '%s' of transmission '%s' resolve to the same engine path: %s", other, o.ID, t.ID, p)}
		}
		byPath[p] = o.ID
	}
	return nil
}

// Find returns the index of the transmission with id, or -1.
func (s *Settings) Find(id string) int {
	for i := range s.Transmissions {
		if s.Transmissions[i].ID == id {
			return i
		}
	}
	return -1
}
