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
	if ce := s.check(); ce != nil {
		return s, ce.under(loc)
	}
	return s, nil
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
// transmission output ids and engine paths are unique. A conflict is located
// at the fields involved (see ConflictError) and names transmissions by
// name (Label), the ids being generated.
func (s *Settings) Check() error {
	if ce := s.check(); ce != nil {
		return ce
	}
	return nil
}

func (s *Settings) check() *ConflictError {
	ids := map[string]int{}
	type hostPath struct{ host, path string }
	type claim struct {
		index int
		loc   []any // the field that makes the claim
		own   bool  // the transmission's own path, not an output's
	}
	owner := map[hostPath]claim{}
	for i := range s.Transmissions {
		t := &s.Transmissions[i]
		at := func(loc ...any) []any { return append([]any{"transmissions", i}, loc...) }
		if j, taken := ids[t.ID]; taken {
			return &ConflictError{Msg: fmt.Sprintf("Duplicate transmission id: %s", t.ID), Loc: at("id"), With: []any{"transmissions", j, "id"}}
		}
		ids[t.ID] = i

		outputIDs := map[string]int{}
		for k, o := range t.Outputs {
			if j, taken := outputIDs[o.ID]; taken {
				return &ConflictError{Msg: fmt.Sprintf("Duplicate output id in transmission '%s': %s", t.Label(), o.ID), Loc: at("outputs", k, "id"), With: at("outputs", j, "id")}
			}
			outputIDs[o.ID] = k
		}
		if err := t.checkOutputPathsDistinct(); err != nil {
			return err.under(at())
		}

		for _, c := range t.pathClaims() {
			key := hostPath{t.HostServerID, c.path}
			mine := claim{index: i, loc: at(c.loc...), own: c.path == t.Path}
			if other, taken := owner[key]; taken {
				if other.own && mine.own {
					return &ConflictError{Msg: fmt.Sprintf("Duplicate transmission path for host_server_id='%s': %s", t.HostServerID, c.path), Loc: mine.loc, With: other.loc}
				}
				return &ConflictError{Msg: fmt.Sprintf("Engine path '%s' on host_server_id='%s' is used by transmissions '%s' and '%s'", c.path, t.HostServerID, s.Transmissions[other.index].Label(), t.Label()), Loc: mine.loc, With: other.loc}
			}
			owner[key] = mine
		}
	}
	return nil
}

// checkOutputPathsDistinct refuses two enabled outputs publishing to one
// engine path (possible through output.path): one path has one publisher.
func (t *Transmission) checkOutputPathsDistinct() *ConflictError {
	byPath := map[string]int{}
	for k := range t.Outputs {
		o := &t.Outputs[k]
		if !o.Enabled {
			continue
		}
		p := t.OutputPath(o)
		if j, taken := byPath[p]; taken {
			return &ConflictError{Msg: fmt.Sprintf("Outputs '%s' and '%s' of transmission '%s' resolve to the same engine path: %s", t.Outputs[j].ID, o.ID, t.Label(), p),
				Loc: outputPathLoc(k, o), With: outputPathLoc(j, &t.Outputs[j])}
		}
		byPath[p] = k
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
