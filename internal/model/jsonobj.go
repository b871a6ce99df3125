package model

import (
	"bytes"
	"encoding/json"
	"time"
)

// TimeLayout is how timestamps appear in JSON: UTC, microseconds, 'Z'
// (2026-05-03T19:25:57.123456Z), as the original extension writes them.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime renders t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// objectWriter writes a JSON object member by member, keeping the order of
// the calls, so known fields come out in the documented order and extra
// fields after them.
type objectWriter struct {
	buf bytes.Buffer
	err error
}

func (w *objectWriter) field(key string, value any) {
	if w.err != nil {
		return
	}
	if w.buf.Len() == 0 {
		w.buf.WriteByte('{')
	} else {
		w.buf.WriteByte(',')
	}
	k, _ := json.Marshal(key)
	w.buf.Write(k)
	w.buf.WriteByte(':')
	v, err := json.Marshal(value)
	if err != nil {
		w.err = err
		return
	}
	w.buf.Write(v)
}

// extras writes every member of m in key order.
func (w *objectWriter) extras(m map[string]json.RawMessage) {
	for _, k := range sortedKeys(m) {
		w.field(k, m[k])
	}
}

func (w *objectWriter) bytes() ([]byte, error) {
	if w.err != nil {
		return nil, w.err
	}
	if w.buf.Len() == 0 {
		return []byte("{}"), nil
	}
	w.buf.WriteByte('}')
	return w.buf.Bytes(), nil
}
