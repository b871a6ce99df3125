package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// reader decodes one JSON value at one location and records what is wrong with
// it. Every method returns ok=false after recording an error, so decoding goes
// on and one response can list every problem.
type reader struct {
	errs *[]FieldError
	loc  []any
}

func newReader(loc ...any) reader {
	return reader{errs: new([]FieldError), loc: loc}
}

// at is the reader for a child of this location.
func (r reader) at(key any) reader {
	return reader{errs: r.errs, loc: append(slices.Clip(r.loc), key)}
}

func (r reader) fail(typ, format string, args ...any) {
	*r.errs = append(*r.errs, FieldError{Loc: slices.Clone(r.loc), Msg: fmt.Sprintf(format, args...), Type: typ})
}

// err is the collected errors as a *ValidationError, or nil.
func (r reader) err() error {
	if len(*r.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: *r.errs}
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// object decodes a JSON object into its raw members.
func (r reader) object(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &m) != nil || m == nil {
		r.fail("dict_type", "Input should be a valid dictionary or object")
		return nil, false
	}
	return m, true
}

// forbidExtra records an error for each member of m not named in known.
func (r reader) forbidExtra(m map[string]json.RawMessage, known ...string) {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(known, k) {
			r.at(k).fail("extra_forbidden", "Extra inputs are not permitted")
		}
	}
}

func (r reader) list(raw json.RawMessage) ([]json.RawMessage, bool) {
	var l []json.RawMessage
	if isNull(raw) || json.Unmarshal(raw, &l) != nil {
		r.fail("list_type", "Input should be a valid list")
		return nil, false
	}
	return l, true
}

func (r reader) str(raw json.RawMessage) (string, bool) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		r.fail("string_type", "Input should be a valid string")
		return "", false
	}
	return s, true
}

func (r reader) boolean(raw json.RawMessage) (bool, bool) {
	var b bool
	if isNull(raw) || json.Unmarshal(raw, &b) != nil {
		r.fail("bool_type", "Input should be a valid boolean")
		return false, false
	}
	return b, true
}

// integer accepts a JSON number with no fractional part inside [lo, hi].
func (r reader) integer(raw json.RawMessage, lo, hi int) (int, bool) {
	var f float64
	if isNull(raw) || json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
		r.fail("int_type", "Input should be a valid integer")
		return 0, false
	}
	if f < float64(lo) {
		r.fail("greater_than_equal", "Input should be greater than or equal to %d", lo)
		return 0, false
	}
	if f > float64(hi) {
		r.fail("less_than_equal", "Input should be less than or equal to %d", hi)
		return 0, false
	}
	return int(f), true
}

// number accepts a JSON number inside [lo, hi].
func (r reader) number(raw json.RawMessage, lo, hi float64) (float64, bool) {
	var f float64
	if isNull(raw) || json.Unmarshal(raw, &f) != nil {
		r.fail("float_type", "Input should be a valid number")
		return 0, false
	}
	if f < lo {
		r.fail("greater_than_equal", "Input should be greater than or equal to %g", lo)
		return 0, false
	}
	if f > hi {
		r.fail("less_than_equal", "Input should be less than or equal to %g", hi)
		return 0, false
	}
	return f, true
}

// enum accepts one of the allowed strings.
func enum[T ~string](r reader, raw json.RawMessage, allowed ...T) (T, bool) {
	s, ok := r.str(raw)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, T(s)) {
		quoted := make([]string, len(allowed))
		for i, a := range allowed {
			quoted[i] = "'" + string(a) + "'"
		}
		r.fail("literal_error", "Input should be %s", strings.Join(quoted, " or "))
		return "", false
	}
	return T(s), true
}

// optionalString is a trimmed string where null and "" both mean absent.
func (r reader) optionalString(raw json.RawMessage) (string, bool) {
	if isNull(raw) {
		return "", true
	}
	s, ok := r.str(raw)
	return strings.TrimSpace(s), ok
}

// optionalMember reads m[key] as an optional trimmed string: nil when the
// member is absent, null or empty.
func (r reader) optionalMember(m map[string]json.RawMessage, key string) *string {
	v, present := m[key]
	if !present {
		return nil
	}
	if s, ok := r.at(key).optionalString(v); ok && s != "" {
		return &s
	}
	return nil
}

// timestamp accepts RFC 3339 (any offset) or a naive ISO-8601 time taken as
// UTC, and returns it in UTC at microsecond precision.
func (r reader) timestamp(raw json.RawMessage) (time.Time, bool) {
	s, ok := r.str(raw)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond), true
		}
	}
	r.fail("datetime_from_date_parsing", "Input should be a valid datetime (ISO 8601, e.g. 2026-05-03T19:25:57.123456Z)")
	return time.Time{}, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
