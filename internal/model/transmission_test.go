package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fieldErrors returns "loc:type" for every error in err, or nil.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("error %v is %T, want *ValidationError", err, err)
	}
	var out []string
	for _, fe := range ve.Errors {
		out = append(out, formatLoc(fe.Loc)+":"+fe.Type)
	}
	return out
}

func TestDecodeTransmissionDefaults(t *testing.T) {
	tr, err := DecodeTransmission(json.RawMessage(`{"outputs":[{"protocol":"hls"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.ID) != 36 {
		t.Errorf("generated id %q is not a UUID", tr.ID)
	}
	if tr.Path != tr.ID {
		t.Errorf("empty path = %q, want the id %q", tr.Path, tr.ID)
	}
	want := Transmission{ID: tr.ID, Name: "", Enabled: true, HostServerID: "local", Path: tr.ID, Placeholder: "gray", Arbitration: "priority_latest"}
	got := tr
	got.Outputs = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	o := tr.Outputs[0]
	if len(o.ID) != 36 || !o.Enabled || o.LatencyProfile != "normal" || o.Resolution != nil || o.FPSLimit != nil || o.BitrateKbps != nil || o.Authentication != nil {
		t.Errorf("output defaults = %+v", o)
	}
}

func TestDecodeTransmissionNormalises(t *testing.T) {
	tr, err := DecodeTransmission(json.RawMessage(`{
		"id": "stream-1", "name": "  Front  ", "host_server_id": "  EDGE-1 ", "path": "!!!",
		"outputs": [{"id": " o1 ", "protocol": "rtsp", "authentication": {"enabled": true, "username": " bob ", "password": ""}}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Name != "Front" || tr.HostServerID != "edge-1" || tr.Path != "stream-1" {
		t.Errorf("got name %q host %q path %q", tr.Name, tr.HostServerID, tr.Path)
	}
	a := tr.Outputs[0].Authentication
	if tr.Outputs[0].ID != "o1" || a.Username == nil || *a.Username != "bob" || a.Password != nil {
		t.Errorf("output = %+v auth = %+v", tr.Outputs[0], a)
	}
	if a.Applies() {
		t.Error("auth without password applies")
	}
	for _, host := range []string{`""`, `null`} {
		tr, err := DecodeTransmission(json.RawMessage(`{"host_server_id": ` + host + `}`))
		if err != nil || tr.HostServerID != "local" {
			t.Errorf("host %s -> %q, %v; want local", host, tr.HostServerID, err)
		}
	}
}

func TestDecodeTransmissionRules(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string // loc:type of each error, in order
	}{
		{"valid full", `{"id":"a","name":"n","path":"p","placeholder":"black","arbitration":"latest","outputs":[{"id":"o","protocol":"webrtc","resolution":{"width":7680,"height":4320},"fps_limit":120,"bitrate_kbps":250000,"latency_profile":"ultra_low"}]}`, nil},
		{"minimums", `{"outputs":[{"protocol":"rtsp","resolution":{"width":1,"height":1},"fps_limit":1,"bitrate_kbps":64}]}`, nil},
		{"not an object", `[1]`, []string{":dict_type"}},
		{"bad placeholder", `{"placeholder":"white"}`, []string{"placeholder:literal_error"}},
		{"bad arbitration", `{"arbitration":"random"}`, []string{"arbitration:literal_error"}},
		{"enabled not bool", `{"enabled":"yes"}`, []string{"enabled:bool_type"}},
		{"name not string", `{"name":5}`, []string{"name:string_type"}},
		{"outputs not list", `{"outputs":{}}`, []string{"outputs:list_type"}},
		{"missing protocol", `{"outputs":[{}]}`, []string{"outputs[0].protocol:missing"}},
		{"bad protocol", `{"outputs":[{"protocol":"srt"}]}`, []string{"outputs[0].protocol:literal_error"}},
		{"width zero", `{"outputs":[{"protocol":"hls","resolution":{"width":0,"height":720}}]}`, []string{"outputs[0].resolution.width:greater_than_equal"}},
		{"width too big", `{"outputs":[{"protocol":"hls","resolution":{"width":7681,"height":720}}]}`, []string{"outputs[0].resolution.width:less_than_equal"}},
		{"height too big", `{"outputs":[{"protocol":"hls","resolution":{"width":1280,"height":4321}}]}`, []string{"outputs[0].resolution.height:less_than_equal"}},
		{"height missing", `{"outputs":[{"protocol":"hls","resolution":{"width":1280}}]}`, []string{"outputs[0].resolution.height:missing"}},
		{"resolution extra", `{"outputs":[{"protocol":"hls","resolution":{"width":1,"height":1,"depth":3}}]}`, []string{"outputs[0].resolution.depth:extra_forbidden"}},
		{"fps zero", `{"outputs":[{"protocol":"hls","fps_limit":0}]}`, []string{"outputs[0].fps_limit:greater_than_equal"}},
		{"fps too high", `{"outputs":[{"protocol":"hls","fps_limit":121}]}`, []string{"outputs[0].fps_limit:less_than_equal"}},
		{"fps fraction", `{"outputs":[{"protocol":"hls","fps_limit":12.5}]}`, []string{"outputs[0].fps_limit:int_type"}},
		{"bitrate low", `{"outputs":[{"protocol":"hls","bitrate_kbps":63}]}`, []string{"outputs[0].bitrate_kbps:greater_than_equal"}},
		{"bitrate high", `{"outputs":[{"protocol":"hls","bitrate_kbps":250001}]}`, []string{"outputs[0].bitrate_kbps:less_than_equal"}},
		{"bad latency", `{"outputs":[{"protocol":"hls","latency_profile":"fast"}]}`, []string{"outputs[0].latency_profile:literal_error"}},
		{"auth extra", `{"outputs":[{"protocol":"hls","authentication":{"enabled":true,"token":"x"}}]}`, []string{"outputs[0].authentication.token:extra_forbidden"}},
		{"camera controls need camera", `{"camera_controls":{"enabled":true}}`, []string{"camera_controls.camera_id:value_error"}},
		{"camera controls extra", `{"camera_controls":{"enabled":false,"ptz":1}}`, []string{"camera_controls.ptz:extra_forbidden"}},
		{"bad timestamp", `{"created_at":"yesterday"}`, []string{"created_at:datetime_from_date_parsing"}},
		{"reserved path all", `{"path":"all"}`, []string{"path:value_error"}},
		{"reserved path all_others", `{"path":"all_others"}`, []string{"path:value_error"}},
		{"id fallback is slugged", `{"id":"~Cam 1","path":""}`, nil},
		{"id fallback that slugs to nothing", `{"id":"~~~","path":""}`, []string{"path:value_error"}},
		{"non-ascii path", `{"path":"câmera"}`, []string{"path:value_error"}},
		{"output path override reserved", `{"path":"p","outputs":[{"protocol":"hls","path":"all"}]}`, []string{"outputs[0].path:value_error"}},
		{"output path not a string", `{"path":"p","outputs":[{"protocol":"hls","path":5}]}`, []string{"outputs[0].path:string_type"}},
		{"output path without a letter", `{"path":"p","outputs":[{"protocol":"hls","path":"!!!"}]}`, []string{"outputs[0].path:value_error"}},
		{"output path null is unpinned", `{"path":"p","outputs":[{"protocol":"hls","path":null}]}`, nil},
		{"disabled output path not checked", `{"path":"p","outputs":[{"protocol":"hls","enabled":false,"path":"all"}]}`, nil},
		{"several errors at once", `{"placeholder":1,"outputs":[{"protocol":"x","fps_limit":-1}]}`, []string{"placeholder:string_type", "outputs[0].protocol:literal_error", "outputs[0].fps_limit:greater_than_equal"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeTransmission(json.RawMessage(c.body))
			if got := fieldErrors(t, err); !reflect.DeepEqual(got, c.want) {
				t.Errorf("errors = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDecodeTransmissionCreate(t *testing.T) {
	_, err := DecodeTransmissionCreate(json.RawMessage(`{"name":"n","path":"p","id":"x","created_at":"2026-01-01T00:00:00Z","color":"red"}`), "body")
	want := []string{"body.color:extra_forbidden", "body.created_at:extra_forbidden", "body.id:extra_forbidden"}
	if got := fieldErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %v, want %v", got, want)
	}
	_, err = DecodeTransmissionCreate(json.RawMessage(`{}`), "body")
	want = []string{"body.name:missing", "body.path:missing"}
	if got := fieldErrors(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %v, want %v", got, want)
	}
	tr, err := DecodeTransmissionCreate(json.RawMessage(`{"name":"n","path":"","outputs":[{"protocol":"hls","resize_mode":"none"}]}`), "body")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Path != tr.ID || tr.Outputs[0].ResizeMode() != ResizeNone {
		t.Errorf("create = %+v", tr)
	}
}

func TestExtraFieldsRoundTrip(t *testing.T) {
	in := `{"id":"t1","name":"n","enabled":false,"host_server_id":"local","path":"p","placeholder":"black","arbitration":"latest","camera_controls":{"enabled":true,"camera_id":"cam"},` +
		`"outputs":[{"id":"o1","protocol":"hls","enabled":true,"resolution":{"width":640,"height":480},"fps_limit":15,"bitrate_kbps":800,"latency_profile":"low","authentication":{"enabled":true,"username":"u","password":"p"},"path":"custom","resize_mode":"none","vendor":{"nested":[1,2,{"a":null}]}}],` +
		`"created_at":"2026-05-03T19:25:57.123456Z","updated_at":"2026-05-04T00:00:00.000000Z","legacy_slug":"x","z_extra":1.5}`
	tr, err := DecodeTransmission(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip changed the document:\n in  %s\n out %s", in, out)
	}
}

func TestTimestamps(t *testing.T) {
	tr, err := DecodeTransmission(json.RawMessage(`{"created_at":"2026-05-03T21:25:57.1234567+02:00","updated_at":"2026-05-03T19:25:57"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := FormatTime(tr.CreatedAt); got != "2026-05-03T19:25:57.123456Z" {
		t.Errorf("created_at = %s", got)
	}
	if got := FormatTime(tr.UpdatedAt); got != "2026-05-03T19:25:57.000000Z" {
		t.Errorf("updated_at = %s", got)
	}
	var empty Transmission
	now := time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))
	empty.StampMissing(now)
	if FormatTime(empty.CreatedAt) != "2026-01-02T02:04:05.000006Z" || empty.UpdatedAt != empty.CreatedAt {
		t.Errorf("stamped %v %v", empty.CreatedAt, empty.UpdatedAt)
	}
}

func TestAuthenticationApplies(t *testing.T) {
	s := func(v string) *string { return &v }
	cases := []struct {
		a    *Authentication
		want bool
	}{
		{nil, false},
		{&Authentication{Enabled: false, Username: s("u"), Password: s("p")}, false},
		{&Authentication{Enabled: true, Username: s("u")}, false},
		{&Authentication{Enabled: true, Password: s("p")}, false},
		{&Authentication{Enabled: true, Username: s("u"), Password: s("p")}, true},
	}
	for i, c := range cases {
		if got := c.a.Applies(); got != c.want {
			t.Errorf("case %d: Applies = %v, want %v", i, got, c.want)
		}
	}
}

func TestOutputPath(t *testing.T) {
	decode := func(body string) Transmission {
		tr, err := DecodeTransmission(json.RawMessage(body))
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	single := decode(`{"path":"front","outputs":[{"id":"a","protocol":"hls"},{"id":"b","protocol":"rtsp","enabled":false}]}`)
	if got := single.OutputPath(&single.Outputs[0]); got != "front" {
		t.Errorf("single enabled output -> %q, want front", got)
	}
	multi := decode(`{"path":"front","outputs":[{"id":"hls_main","protocol":"hls"},{"id":"RTSP Sub","protocol":"rtsp"},{"id":"w","protocol":"webrtc","path":"Lobby Cam"}]}`)
	want := []string{"front-hls_main", "front-rtsp-sub", "lobby-cam"}
	for i, w := range want {
		if got := multi.OutputPath(&multi.Outputs[i]); got != w {
			t.Errorf("output %d -> %q, want %q", i, got, w)
		}
	}
	if got := multi.EnginePaths(); !reflect.DeepEqual(got, []string{"front", "front-hls_main", "front-rtsp-sub", "lobby-cam"}) {
		t.Errorf("EnginePaths = %v", got)
	}
}

func TestCheckEnginePath(t *testing.T) {
	for _, ok := range []string{"front", "a-b_c", "Cam.1", "a/b", "test"} {
		if err := CheckEnginePath(ok); err != nil {
			t.Errorf("CheckEnginePath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "all", "all_others", "~^x$", "câmera", "a b", "/a", "a/"} {
		if err := CheckEnginePath(bad); err == nil {
			t.Errorf("CheckEnginePath(%q) accepted", bad)
		}
	}
}

func FuzzDecodeTransmission(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"name":"n","path":"p","outputs":[{"protocol":"hls","fps_limit":12}]}`,
		`{"id":"~x","path":""}`, `{"outputs":[{"protocol":"rtsp","x":{"y":[1]}}],"extra":null}`,
		`{"created_at":"2026-05-03T19:25:57.123456Z"}`, `[]`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := DecodeTransmission(json.RawMessage(in))
		if err != nil {
			if ve, ok := err.(*ValidationError); !ok || len(ve.Errors) == 0 {
				t.Fatalf("error %v is not a non-empty ValidationError", err)
			}
			return
		}
		out, err := json.Marshal(tr)
		if err != nil {
			t.Fatalf("marshal of a decoded transmission failed: %v", err)
		}
		again, err := DecodeTransmission(out)
		if err != nil {
			t.Fatalf("re-decoding %s failed: %v", out, err)
		}
		out2, _ := json.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
		if strings.TrimSpace(tr.Name) != tr.Name {
			t.Fatalf("name %q not trimmed", tr.Name)
		}
	})
}

// Unknown members are kept up to MaxExtraBytes a transmission (its
// outputs' included) and MaxExtraBytesTotal in all, measured as written:
// "<" is written as \u003c, six bytes.
func TestExtraMembersBudget(t *testing.T) {
	member := func(key string, n int, c string) string {
		return fmt.Sprintf("%q:%q", key, strings.Repeat(c, n))
	}
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"under", `{"name":"n","path":"p",` + member("vendor", 15<<10, "x") + `}`, true},
		{"over", `{"name":"n","path":"p",` + member("vendor", 17<<10, "x") + `}`, false},
		{"over once escaped", `{"name":"n","path":"p",` + member("vendor", 3<<10, "<") + `}`, false},
		{"over with the outputs'", `{"name":"n","path":"p",` + member("a", 9<<10, "x") + `,"outputs":[{"protocol":"hls",` + member("b", 9<<10, "x") + `}]}`, false},
	} {
		tr, err := DecodeTransmissionReplace(json.RawMessage(tc.body), "body")
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			} else if tr.ExtraBytes() > MaxExtraBytes {
				t.Errorf("%s: kept %d bytes", tc.name, tr.ExtraBytes())
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Errors) != 1 || fmt.Sprint(ve.Errors[0].Loc) != "[body]" || !strings.Contains(ve.Errors[0].Msg, fmt.Sprint(MaxExtraBytes)) {
			t.Errorf("%s: error %v, want one at body naming the limit", tc.name, err)
		}
	}
	// Each transmission under its budget, the whole over the total.
	var items []string
	for i := range MaxExtraBytesTotal/(15<<10) + 1 {
		items = append(items, fmt.Sprintf(`{"id":"t%d","name":"n","path":"p%d",%s}`, i, i, member("vendor", 15<<10, "x")))
	}
	_, err := DecodeSettings(json.RawMessage(`{"transmissions":[`+strings.Join(items, ",")+`]}`), time.Now(), "body")
	var ve *ValidationError
	if !errors.As(err, &ve) || fmt.Sprint(ve.Errors[0].Loc) != "[body transmissions]" || !strings.Contains(ve.Errors[0].Msg, fmt.Sprint(MaxExtraBytesTotal)) {
		t.Errorf("total over budget: %v", err)
	}
}

// output.path pins the output's engine path, slugged like the
// transmission's, whatever the other outputs are.
func TestOutputPathPins(t *testing.T) {
	tr, err := DecodeTransmission(json.RawMessage(`{"path":"yard","outputs":[{"id":"hls","protocol":"hls","path":" Yard "},{"id":"webrtc","protocol":"webrtc"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Outputs[0].Path != "yard" || tr.OutputPath(&tr.Outputs[0]) != "yard" || tr.OutputPath(&tr.Outputs[1]) != "yard-webrtc" {
		t.Fatalf("paths %q %q", tr.OutputPath(&tr.Outputs[0]), tr.OutputPath(&tr.Outputs[1]))
	}
	out, _ := json.Marshal(tr.Outputs[0])
	if !strings.Contains(string(out), `"path":"yard"`) {
		t.Errorf("pin not written: %s", out)
	}
	if out, _ := json.Marshal(tr.Outputs[1]); strings.Contains(string(out), `"path"`) {
		t.Errorf("unpinned output written with a path: %s", out)
	}
}
