package model

import (
	"encoding/json"
	"regexp"
	"strings"
)

// DefaultMediaMTXVersion is the MediaMTX release the external engine uses
// unless the settings name another.
const DefaultMediaMTXVersion = "v1.20.1"

// Ports are the engine's listening ports, one per protocol plus its API,
// and the UDP pair of RTSP over UDP: RTP on the even port RTP, RTCP on
// RTP+1.
type Ports struct {
	RTSP   int `json:"rtsp"`
	HLS    int `json:"hls"`
	WebRTC int `json:"webrtc"`
	API    int `json:"api"`
	RTP    int `json:"rtp"`
}

// DefaultPorts are the preferred ports when none are configured (the RTP
// pair 50000/50001 is the spec's).
var DefaultPorts = Ports{RTSP: 8554, HLS: 8888, WebRTC: 8889, API: 9997, RTP: 50000}

// Engine kinds.
const (
	EngineEmbedded = "embedded"
	EngineMediaMTX = "mediamtx"
)

// EngineSettings configure the media engine.
type EngineSettings struct {
	Kind             string   `json:"kind"`
	Enabled          bool     `json:"enabled"`
	ExposeToLAN      bool     `json:"expose_to_lan"`
	PreferredPorts   Ports    `json:"preferred_ports"`
	MediaMTXVersion  string   `json:"mediamtx_version"`
	WebRTCICEServers []string `json:"webrtc_ice_servers"`
	// ReaderHoldSeconds is how long a viewer of a path without a publisher
	// is held waiting for the stream before it gets "not found".
	ReaderHoldSeconds int `json:"reader_hold_seconds"`
	// H264Encoder is the ffmpeg encoder outputs ask for; it is probed and
	// falls back to libx264 when it does not work on this machine.
	H264Encoder H264Encoder `json:"h264_encoder"`
	// HLSVariant is how both engines serve HLS.
	HLSVariant HLSVariant `json:"hls_variant"`
}

// Bounds of ReaderHoldSeconds.
const (
	DefaultReaderHoldSeconds = 10
	MaxReaderHoldSeconds     = 60
)

// DefaultEngineSettings are the settings of a fresh install.
func DefaultEngineSettings() EngineSettings {
	return EngineSettings{Kind: EngineEmbedded, PreferredPorts: DefaultPorts, MediaMTXVersion: DefaultMediaMTXVersion, WebRTCICEServers: []string{}, ReaderHoldSeconds: DefaultReaderHoldSeconds, H264Encoder: H264EncoderAuto, HLSVariant: HLSMPEGTS}
}

var versionPattern = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)

func decodeEngine(r reader, raw json.RawMessage) EngineSettings {
	e := DefaultEngineSettings()
	m, ok := r.object(raw)
	if !ok {
		return e
	}
	r.forbidExtra(m, "kind", "enabled", "expose_to_lan", "preferred_ports", "mediamtx_version", "webrtc_ice_servers", "reader_hold_seconds", "h264_encoder", "hls_variant")
	if v, present := m["kind"]; present && !isNull(v) {
		if kind, ok := enum(r.at("kind"), v, EngineEmbedded, EngineMediaMTX); ok {
			e.Kind = kind
		}
	}
	if v, present := m["enabled"]; present && !isNull(v) {
		e.Enabled, _ = r.at("enabled").boolean(v)
	}
	if v, present := m["expose_to_lan"]; present && !isNull(v) {
		e.ExposeToLAN, _ = r.at("expose_to_lan").boolean(v)
	}
	if v, present := m["preferred_ports"]; present && !isNull(v) {
		e.PreferredPorts = decodePorts(r.at("preferred_ports"), v)
	}
	if v, present := m["mediamtx_version"]; present && !isNull(v) {
		if s, ok := r.at("mediamtx_version").str(v); ok {
			e.MediaMTXVersion = strings.TrimSpace(s)
			if !versionPattern.MatchString(e.MediaMTXVersion) {
				r.at("mediamtx_version").fail("value_error", "mediamtx_version should be a release tag such as %s", DefaultMediaMTXVersion)
			}
		}
	}
	if v, present := m["reader_hold_seconds"]; present && !isNull(v) {
		if n, ok := r.at("reader_hold_seconds").integer(v, 1, MaxReaderHoldSeconds); ok {
			e.ReaderHoldSeconds = n
		}
	}
	if v, present := m["h264_encoder"]; present && !isNull(v) {
		if enc, ok := enum(r.at("h264_encoder"), v, H264Encoders...); ok {
			e.H264Encoder = enc
		}
	}
	if v, present := m["hls_variant"]; present && !isNull(v) {
		if variant, ok := enum(r.at("hls_variant"), v, HLSVariants...); ok {
			e.HLSVariant = variant
		}
	}
	if v, present := m["webrtc_ice_servers"]; present {
		e.WebRTCICEServers = NormalizeICEServers(v)
	}
	return e
}

func decodePorts(r reader, raw json.RawMessage) Ports {
	p := DefaultPorts
	m, ok := r.object(raw)
	if !ok {
		return p
	}
	r.forbidExtra(m, "rtsp", "hls", "webrtc", "api", "rtp")
	for _, f := range []struct {
		key string
		dst *int
		max int
	}{{"rtsp", &p.RTSP, 65535}, {"hls", &p.HLS, 65535}, {"webrtc", &p.WebRTC, 65535}, {"api", &p.API, 65535}, {"rtp", &p.RTP, 65534}} {
		if v, present := m[f.key]; present && !isNull(v) {
			if n, ok := r.at(f.key).integer(v, 1, f.max); ok {
				*f.dst = n
			}
		}
	}
	if p.RTP%2 != 0 {
		r.at("rtp").fail("value_error", "Use an even port: RTP takes it and RTCP the next one")
	}
	return p
}

// NormalizeICEServers accepts a JSON list of strings or one string split on
// commas and newlines, keeps the trimmed stun:, turn: and turns: URLs and
// drops case-insensitive duplicates (first spelling wins). Anything else
// yields an empty list.
func NormalizeICEServers(raw json.RawMessage) []string {
	var items []string
	var one string
	var many []json.RawMessage
	switch {
	case json.Unmarshal(raw, &one) == nil && !isNull(raw):
		items = strings.FieldsFunc(one, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	case json.Unmarshal(raw, &many) == nil:
		for _, item := range many {
			var s string
			if json.Unmarshal(item, &s) == nil {
				items = append(items, s)
			}
		}
	}
	out := []string{}
	seen := map[string]bool{}
	for _, item := range items {
		item = strings.TrimSpace(item)
		lower := strings.ToLower(item)
		if !strings.HasPrefix(lower, "stun:") && !strings.HasPrefix(lower, "turn:") && !strings.HasPrefix(lower, "turns:") {
			continue
		}
		if seen[lower] {
			continue
		}
		seen[lower] = true
		out = append(out, item)
	}
	return out
}
