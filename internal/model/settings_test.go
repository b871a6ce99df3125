package model

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestDefaultSettingsJSON(t *testing.T) {
	got, err := json.Marshal(DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"transmissions":[],"engine":{"kind":"embedded","enabled":false,"expose_to_lan":false,"preferred_ports":{"rtsp":8554,"hls":8888,"webrtc":8889,"api":9997,"rtp":50000},"mediamtx_version":"v1.20.1","webrtc_ice_servers":[],"reader_hold_seconds":10,"h264_encoder":"auto","hls_variant":"mpegts"},` +
		`"runtime":{"freshness_seconds":2,"sticky_seconds":0.5,"stale_writer_seconds":30,"max_writers":32,"stop_debounce_seconds":3,"prime_seconds":60}}`
	if string(got) != want {
		t.Errorf("defaults\n got  %s\n want %s", got, want)
	}
	decoded, err := DecodeSettings(json.RawMessage(`{}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(decoded); string(again) != want {
		t.Errorf("decoding {} gives %s", again)
	}
}

func TestEngineSettingsRules(t *testing.T) {
	cases := []struct {
		name, engine string
		want         []string
	}{
		{"ports in range", `{"preferred_ports":{"rtsp":1,"hls":65535}}`, nil},
		{"port zero", `{"preferred_ports":{"rtsp":0}}`, []string{"engine.preferred_ports.rtsp:greater_than_equal"}},
		{"port too big", `{"preferred_ports":{"api":65536}}`, []string{"engine.preferred_ports.api:less_than_equal"}},
		{"port extra", `{"preferred_ports":{"srt":8890}}`, []string{"engine.preferred_ports.srt:extra_forbidden"}},
		{"rtp pair in range", `{"preferred_ports":{"rtp":65534}}`, nil},
		{"rtp odd", `{"preferred_ports":{"rtp":8001}}`, []string{"engine.preferred_ports.rtp:value_error"}},
		{"rtp without room for rtcp", `{"preferred_ports":{"rtp":65535}}`, []string{"engine.preferred_ports.rtp:less_than_equal"}},
		{"engine extra", `{"turbo":true}`, []string{"engine.turbo:extra_forbidden"}},
		{"bad version", `{"mediamtx_version":"../../x"}`, []string{"engine.mediamtx_version:value_error"}},
		{"expose not bool", `{"expose_to_lan":1}`, []string{"engine.expose_to_lan:bool_type"}},
		{"embedded kind", `{"kind":"embedded"}`, nil},
		{"hold in range", `{"reader_hold_seconds":60}`, nil},
		{"hold zero", `{"reader_hold_seconds":0}`, []string{"engine.reader_hold_seconds:greater_than_equal"}},
		{"mediamtx kind", `{"kind":"mediamtx"}`, nil},
		{"hardware encoder", `{"h264_encoder":"h264_vaapi"}`, nil},
		{"unknown encoder", `{"h264_encoder":"h264_amf"}`, []string{"engine.h264_encoder:literal_error"}},
		{"encoder not a string", `{"h264_encoder":1}`, []string{"engine.h264_encoder:string_type"}},
		{"unknown kind", `{"kind":"gstreamer"}`, []string{"engine.kind:literal_error"}},
		{"hls fmp4", `{"hls_variant":"fmp4"}`, nil},
		{"hls low latency", `{"hls_variant":"lowLatency"}`, nil},
		{"hls null keeps the default", `{"hls_variant":null}`, nil},
		{"hls unknown variant", `{"hls_variant":"ll-hls"}`, []string{"engine.hls_variant:literal_error"}},
		{"hls case matters", `{"hls_variant":"lowlatency"}`, []string{"engine.hls_variant:literal_error"}},
		{"hls not a string", `{"hls_variant":true}`, []string{"engine.hls_variant:string_type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeSettings(json.RawMessage(`{"engine":`+c.engine+`}`), testNow)
			if got := fieldErrors(t, err); !reflect.DeepEqual(got, c.want) {
				t.Errorf("errors = %v, want %v", got, c.want)
			}
		})
	}
	if s, err := DecodeSettings(json.RawMessage(`{"engine":{"kind":"mediamtx"}}`), testNow); err != nil || s.Engine.Kind != EngineMediaMTX {
		t.Errorf("kind mediamtx decodes to %q (%v)", s.Engine.Kind, err)
	}
	if s, err := DecodeSettings(json.RawMessage(`{"engine":{"h264_encoder":"h264_nvenc"}}`), testNow); err != nil || s.Engine.H264Encoder != H264EncoderNVENC {
		t.Errorf("h264_encoder decodes to %q (%v)", s.Engine.H264Encoder, err)
	}
	for _, v := range HLSVariants {
		s, err := DecodeSettings(json.RawMessage(`{"engine":{"hls_variant":"`+string(v)+`"}}`), testNow)
		if err != nil || s.Engine.HLSVariant != v {
			t.Errorf("hls_variant %q decodes to %q (%v)", v, s.Engine.HLSVariant, err)
		}
		raw, _ := json.Marshal(s)
		if again, err := DecodeSettings(raw, testNow); err != nil || again.Engine.HLSVariant != v {
			t.Errorf("hls_variant %q does not survive a round trip: %s (%v)", v, raw, err)
		}
	}
	s, err := DecodeSettings(json.RawMessage(`{"engine":{"preferred_ports":{"hls":9000}}}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Ports{RTSP: 8554, HLS: 9000, WebRTC: 8889, API: 9997, RTP: 50000}); s.Engine.PreferredPorts != want {
		t.Errorf("partial ports = %+v, want %+v", s.Engine.PreferredPorts, want)
	}
}

func TestRuntimeSettingsRules(t *testing.T) {
	cases := []struct {
		name, runtime string
		want          []string
	}{
		{"in range", `{"freshness_seconds":0.1,"sticky_seconds":0,"max_writers":1,"stop_debounce_seconds":600}`, nil},
		{"freshness too small", `{"freshness_seconds":0.05}`, []string{"runtime.freshness_seconds:greater_than_equal"}},
		{"sticky not a number", `{"sticky_seconds":"x"}`, []string{"runtime.sticky_seconds:float_type"}},
		{"max writers fraction", `{"max_writers":2.5}`, []string{"runtime.max_writers:int_type"}},
		{"unknown", `{"tick":0.1}`, []string{"runtime.tick:extra_forbidden"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeSettings(json.RawMessage(`{"runtime":`+c.runtime+`}`), testNow)
			if got := fieldErrors(t, err); !reflect.DeepEqual(got, c.want) {
				t.Errorf("errors = %v, want %v", got, c.want)
			}
		})
	}
}

func TestNormalizeICEServers(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`["stun:a:3478"," turn:u:p@b:3478 ","turns:c:5349"]`, []string{"stun:a:3478", "turn:u:p@b:3478", "turns:c:5349"}},
		{`"stun:a:3478, STUN:A:3478\nturn:b\r\nhttp://x"`, []string{"stun:a:3478", "turn:b"}},
		{`["STUN:X", "stun:x", 5, null, "ftp:y"]`, []string{"STUN:X"}},
		{`42`, []string{}},
		{`null`, []string{}},
		{`{"a":1}`, []string{}},
		{`""`, []string{}},
	}
	for _, c := range cases {
		if got := NormalizeICEServers(json.RawMessage(c.in)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("NormalizeICEServers(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSettingsCheck(t *testing.T) {
	cases := []struct {
		name, transmissions string
		conflict            string // substring of the ConflictError, "" for none
		loc, with           string // where the conflict is (formatLoc)
	}{
		{"distinct", `[{"id":"a","path":"x"},{"id":"b","path":"y"}]`, "", "", ""},
		{"duplicate id", `[{"id":"a","path":"x"},{"id":"a","path":"y"}]`, "Duplicate transmission id: a", "transmissions[1].id", "transmissions[0].id"},
		{"duplicate path on one host", `[{"id":"a","path":"x"},{"id":"b","path":"X"}]`, "Duplicate transmission path for host_server_id='local': x", "transmissions[1].path", "transmissions[0].path"},
		{"same path on two hosts", `[{"id":"a","path":"x"},{"id":"b","path":"x","host_server_id":"edge"}]`, "", "", ""},
		{"duplicate output id", `[{"id":"a","path":"x","outputs":[{"id":"o","protocol":"hls"},{"id":"o","protocol":"rtsp"}]}]`, "Duplicate output id in transmission 'x': o", "transmissions[0].outputs[1].id", "transmissions[0].outputs[0].id"},
		{"named by name", `[{"id":"8f0c","name":"Yard","path":"x","outputs":[{"id":"hls","protocol":"hls"},{"id":"hls","protocol":"rtsp"}]}]`, "Duplicate output id in transmission 'Yard': hls", "transmissions[0].outputs[1].id", "transmissions[0].outputs[0].id"},
		{"output path collides with other transmission", `[{"id":"a","path":"x","outputs":[{"id":"o","protocol":"hls"},{"id":"p","protocol":"rtsp"}]},{"id":"b","path":"x-o"}]`, "Engine path 'x-o'", "transmissions[1].path", "transmissions[0].outputs[0].id"},
		{"override collides with other transmission", `[{"id":"a","name":"A","path":"x","outputs":[{"id":"o","protocol":"hls","path":"y"}]},{"id":"b","path":"y"}]`, "Engine path 'y' on host_server_id='local' is used by transmissions 'A' and 'y'", "transmissions[1].path", "transmissions[0].outputs[0].path"},
		{"two outputs one override path", `[{"id":"a","path":"x","outputs":[{"id":"o","protocol":"hls","path":"z"},{"id":"p","protocol":"rtsp","path":"z"}]}]`, "resolve to the same engine path: z", "transmissions[0].outputs[1].path", "transmissions[0].outputs[0].path"},
		{"pin on the transmission's own path", `[{"id":"a","path":"x","outputs":[{"id":"o","protocol":"hls","path":"x"},{"id":"p","protocol":"rtsp"}]}]`, "", "", ""},
		{"disabled outputs do not claim paths", `[{"id":"a","path":"x","outputs":[{"id":"o","protocol":"hls","path":"z","enabled":false}]},{"id":"b","path":"z"}]`, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeSettings(json.RawMessage(`{"transmissions":`+c.transmissions+`}`), testNow)
			var ce *ConflictError
			switch {
			case c.conflict == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case c.conflict != "" && !errors.As(err, &ce):
				t.Fatalf("error %v, want a ConflictError", err)
			case c.conflict != "" && !strings.Contains(ce.Msg, c.conflict):
				t.Fatalf("conflict %q does not say %q", ce.Msg, c.conflict)
			case c.conflict != "" && (formatLoc(ce.Loc) != c.loc || formatLoc(ce.With) != c.with):
				t.Fatalf("conflict at %s and %s, want %s and %s", formatLoc(ce.Loc), formatLoc(ce.With), c.loc, c.with)
			}
		})
	}
}

// A conflict inside a larger document is located there, and At cuts out
// the side inside one part of it.
func TestConflictLocatedInDocument(t *testing.T) {
	_, err := DecodeSettings(json.RawMessage(`{"transmissions":[{"id":"a","path":"x"},{"id":"b","path":"x"}]}`), testNow, "streams")
	var ce *ConflictError
	if !errors.As(err, &ce) || formatLoc(ce.Loc) != "streams.transmissions[1].path" {
		t.Fatalf("err = %#v", err)
	}
	if rest, ok := ce.At("streams", "transmissions", 0); !ok || formatLoc(rest) != "path" {
		t.Errorf("At(first) = %v %v", rest, ok)
	}
	if _, ok := ce.At("streams", "transmissions", 2); ok {
		t.Error("At found a side in a transmission not involved")
	}
}

func TestDecodeSettingsRefusesUnknownTopLevel(t *testing.T) {
	_, err := DecodeSettings(json.RawMessage(`{"transmissions":[],"camera_ingest":{}}`), testNow)
	if got := fieldErrors(t, err); !reflect.DeepEqual(got, []string{"camera_ingest:extra_forbidden"}) {
		t.Errorf("errors = %v", got)
	}
}

func TestApplyPatch(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	current, err := DecodeSettings(json.RawMessage(`{"transmissions":[{"id":"a","path":"x","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}],
		"engine":{"enabled":true,"preferred_ports":{"rtsp":9000},"webrtc_ice_servers":["stun:a"]}}`), testNow)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("deep merge keeps siblings and ignores null", func(t *testing.T) {
		got, err := ApplyPatch(current, json.RawMessage(`{"engine":{"preferred_ports":{"hls":9100,"api":null},"expose_to_lan":true,"enabled":null}}`), testNow)
		if err != nil {
			t.Fatal(err)
		}
		want := Ports{RTSP: 9000, HLS: 9100, WebRTC: 8889, API: 9997, RTP: 50000}
		if got.Engine.PreferredPorts != want || !got.Engine.ExposeToLAN || !got.Engine.Enabled {
			t.Errorf("engine = %+v", got.Engine)
		}
		if len(got.Transmissions) != 1 || got.Transmissions[0].ID != "a" {
			t.Errorf("transmissions changed: %+v", got.Transmissions)
		}
	})
	t.Run("hls_variant alone keeps the rest, and the rest keeps it", func(t *testing.T) {
		got, err := ApplyPatch(current, json.RawMessage(`{"engine":{"hls_variant":"lowLatency"}}`), testNow)
		if err != nil {
			t.Fatal(err)
		}
		if got.Engine.HLSVariant != HLSLowLatency || got.Engine.PreferredPorts.RTSP != 9000 || !got.Engine.Enabled || len(got.Engine.WebRTCICEServers) != 1 {
			t.Errorf("engine = %+v", got.Engine)
		}
		again, err := ApplyPatch(got, json.RawMessage(`{"engine":{"reader_hold_seconds":5}}`), testNow)
		if err != nil || again.Engine.HLSVariant != HLSLowLatency {
			t.Errorf("a patch of another member changed hls_variant to %q (%v)", again.Engine.HLSVariant, err)
		}
		if _, err := ApplyPatch(got, json.RawMessage(`{"engine":{"hls_variant":"dash","reader_hold_seconds":5}}`), testNow); err == nil {
			t.Error("an unknown variant was accepted")
		}
	})
	t.Run("lists are replaced", func(t *testing.T) {
		got, err := ApplyPatch(current, json.RawMessage(`{"engine":{"webrtc_ice_servers":["turn:b"]},"transmissions":[{"id":"a","path":"x2"},{"id":"b","path":"y"}]}`), testNow)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Engine.WebRTCICEServers, []string{"turn:b"}) {
			t.Errorf("ice = %v", got.Engine.WebRTCICEServers)
		}
		if len(got.Transmissions) != 2 || got.Transmissions[0].Path != "x2" {
			t.Fatalf("transmissions = %+v", got.Transmissions)
		}
		if !got.Transmissions[0].CreatedAt.Equal(created) {
			t.Errorf("known transmission lost created_at: %v", got.Transmissions[0].CreatedAt)
		}
		if !got.Transmissions[1].CreatedAt.Equal(testNow) || !got.Transmissions[0].UpdatedAt.Equal(testNow) {
			t.Errorf("new timestamps = %v / %v", got.Transmissions[1].CreatedAt, got.Transmissions[0].UpdatedAt)
		}
	})
	t.Run("invalid whole is refused", func(t *testing.T) {
		for _, body := range []string{
			`{"transmissions":[{"id":"a","path":"x"},{"id":"a","path":"y"}]}`,
			`{"engine":{"preferred_ports":{"rtsp":70000}}}`,
			`{"camera_ingest":{"enabled":false}}`,
			`[]`,
		} {
			if _, err := ApplyPatch(current, json.RawMessage(body), testNow); err == nil {
				t.Errorf("patch %s accepted", body)
			}
		}
		if current.Engine.PreferredPorts.RTSP != 9000 || len(current.Transmissions) != 1 {
			t.Errorf("current was modified: %+v", current)
		}
	})
}

func TestPlaybackURL(t *testing.T) {
	ports := Ports{RTSP: 8554, HLS: 8888, WebRTC: 8889, API: 9997}
	cases := []struct {
		protocol, host string
		secure         bool
		want           string
	}{
		{"rtsp", "127.0.0.1", false, "rtsp://127.0.0.1:8554/front-door"},
		{"hls", "127.0.0.1", false, "http://127.0.0.1:8888/front-door/index.m3u8"},
		{"webrtc", "192.168.1.5", false, "http://192.168.1.5:8889/front-door/whep"},
		{"rtsp", "::1", false, "rtsp://[::1]:8554/front-door"},
		{"rtsp", "127.0.0.1", true, "rtsps://127.0.0.1:8554/front-door"},
		{"hls", "cam.example.org", true, "https://cam.example.org:8888/front-door/index.m3u8"},
		{"webrtc", "192.168.1.5", true, "https://192.168.1.5:8889/front-door/whep"},
	}
	for _, c := range cases {
		if got := PlaybackURL(Protocol(c.protocol), c.host, ports, "front-door", c.secure); got != c.want {
			t.Errorf("PlaybackURL(%s, %s, secure %v) = %s, want %s", c.protocol, c.host, c.secure, got, c.want)
		}
	}
}

func FuzzDecodeSettings(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"transmissions":[{"id":"a","path":"x"}],"engine":{"preferred_ports":{"rtsp":1}}}`,
		`{"engine":{"webrtc_ice_servers":"stun:a, turn:b"}}`, `{"transmissions":[{"id":"a"},{"id":"a"}]}`,
	} {
		f.Add(s, `{"engine":{"enabled":true}}`)
	}
	f.Fuzz(func(t *testing.T, doc, patch string) {
		s, err := DecodeSettings(json.RawMessage(doc), testNow)
		if err != nil {
			return
		}
		out, _ := json.Marshal(s)
		again, err := DecodeSettings(out, testNow)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if out2, _ := json.Marshal(again); string(out2) != string(out) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
		before := string(out)
		if merged, err := ApplyPatch(s, json.RawMessage(patch), testNow); err == nil {
			if err := merged.Check(); err != nil {
				t.Fatalf("ApplyPatch returned settings failing Check: %v", err)
			}
		}
		if after, _ := json.Marshal(s); string(after) != before {
			t.Fatalf("ApplyPatch modified its input")
		}
	})
}
