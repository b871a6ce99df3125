package model

import "encoding/json"

// RuntimeSettings tune arbitration and on-demand publishing.
type RuntimeSettings struct {
	// FreshnessSeconds: a writer's last frame keeps it eligible this long.
	FreshnessSeconds float64 `json:"freshness_seconds"`
	// StickySeconds: a newly selected writer is kept this long while eligible.
	StickySeconds float64 `json:"sticky_seconds"`
	// StaleWriterSeconds: a writer silent this long is forgotten.
	StaleWriterSeconds float64 `json:"stale_writer_seconds"`
	// MaxWriters per transmission; the oldest are evicted beyond it.
	MaxWriters int `json:"max_writers"`
	// StopDebounceSeconds: a publisher stops this long after its last viewer left.
	StopDebounceSeconds float64 `json:"stop_debounce_seconds"`
	// PrimeSeconds: a demand prime runs a transmission's publishers this long without viewers.
	PrimeSeconds float64 `json:"prime_seconds"`
}

// DefaultRuntimeSettings are the documented defaults.
func DefaultRuntimeSettings() RuntimeSettings {
	return RuntimeSettings{FreshnessSeconds: 2, StickySeconds: 0.5, StaleWriterSeconds: 30, MaxWriters: 32, StopDebounceSeconds: 3, PrimeSeconds: 60}
}

func decodeRuntime(r reader, raw json.RawMessage) RuntimeSettings {
	rt := DefaultRuntimeSettings()
	m, ok := r.object(raw)
	if !ok {
		return rt
	}
	r.forbidExtra(m, "freshness_seconds", "sticky_seconds", "stale_writer_seconds", "max_writers", "stop_debounce_seconds", "prime_seconds")
	for _, f := range []struct {
		key    string
		lo, hi float64
		dst    *float64
	}{
		{"freshness_seconds", 0.1, 60, &rt.FreshnessSeconds},
		{"sticky_seconds", 0, 10, &rt.StickySeconds},
		{"stale_writer_seconds", 0.5, 3600, &rt.StaleWriterSeconds},
		{"stop_debounce_seconds", 0.5, 600, &rt.StopDebounceSeconds},
		{"prime_seconds", 1, 1800, &rt.PrimeSeconds},
	} {
		if v, present := m[f.key]; present && !isNull(v) {
			if n, ok := r.at(f.key).number(v, f.lo, f.hi); ok {
				*f.dst = n
			}
		}
	}
	if v, present := m["max_writers"]; present && !isNull(v) {
		if n, ok := r.at("max_writers").integer(v, 1, 1024); ok {
			rt.MaxWriters = n
		}
	}
	return rt
}
