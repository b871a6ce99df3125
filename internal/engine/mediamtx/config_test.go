package mediamtx

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
)

var update = flag.Bool("update", false, "rewrite testdata/config.yml")

// sampleInput is a representative engine: an open path fed on demand, a
// path with read credentials, LAN exposure, a TURN server with credentials.
func sampleInput() ConfigInput {
	return ConfigInput{
		BindHost: "0.0.0.0",
		Ports:    model.Ports{RTSP: 8554, HLS: 8888, WebRTC: 8889, API: 9997, RTP: 8000},
		Paths: []PathInput{
			{Path: engine.Path{Name: "test", PublishUser: "pub_test", PublishPass: "pw-test"}, OnDemand: true},
			{Path: engine.Path{Name: "lobby", ReadUser: "viewer", ReadPass: "s3cret", PublishUser: "pub_lobby", PublishPass: "pw-lobby"},
				OnDemand: true, StartTimeout: 5 * time.Second, CloseAfter: time.Second},
			{Path: engine.Path{Name: "true", PublishUser: "pub_true", PublishPass: "pw-true"}},
		},
		// the TURN server without credentials is left out: MediaMTX would
		// refuse every WebRTC session with it
		ICEServers:            []string{"stun:stun.example.org:3478", "turn:nobody.example.org:3478", "turn:alice:pa:ss@turn.example.org:3478"},
		WebRTCAdditionalHosts: []string{"192.168.1.10"},
		WebRTCLocalTCPAddress: ":8189",
		Hook:                  []string{"/opt/toposync/toposync-streaming", "engine-hook", "--data-dir", "/var/lib/topo sync"},
		ReadTimeout:           10 * time.Second,
	}
}

func TestRenderConfigGolden(t *testing.T) {
	got, err := RenderConfig(sampleInput())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "config.yml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendered config differs from %s (go test -run Golden -update rewrites it):\n%s", golden, got)
	}
}

// decoded is the rendered config as MediaMTX reads it: untyped.
func decoded(t *testing.T, c ConfigInput) map[string]any {
	t.Helper()
	data, err := RenderConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return m
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + base64.StdEncoding.EncodeToString(sum[:])
}

// grant is one (user, pass, ips, action, path) the config allows.
type grant struct{ user, pass, ips, action, path string }

func grants(t *testing.T, m map[string]any) []grant {
	t.Helper()
	var out []grant
	for _, u := range m["authInternalUsers"].([]any) {
		u := u.(map[string]any)
		var ips []string
		for _, ip := range u["ips"].([]any) {
			ips = append(ips, ip.(string))
		}
		for _, p := range u["permissions"].([]any) {
			p := p.(map[string]any)
			path, _ := p["path"].(string)
			out = append(out, grant{u["user"].(string), u["pass"].(string), strings.Join(ips, ","), p["action"].(string), path})
		}
	}
	return out
}

func TestConfigSecurityPosture(t *testing.T) {
	m := decoded(t, sampleInput())

	want := map[string]any{
		"authMethod": "internal", "api": true, "apiAddress": "127.0.0.1:9997",
		"metrics": false, "pprof": false, "playback": false,
		"rtmp": false, "srt": false, "moq": false,
		"rtsp": true, "rtspAddress": ":8554", "rtpAddress": ":8000", "rtcpAddress": ":8001",
		"hls": true, "hlsVariant": "mpegts", "hlsAlwaysRemux": false, "hlsAddress": ":8888",
		"webrtc": true, "webrtcAddress": ":8889", "webrtcLocalUDPAddress": ":0", "webrtcLocalTCPAddress": ":8189",
		"logLevel": "info", "readTimeout": "10s",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if _, ok := m["writeTimeout"]; ok {
		t.Error("writeTimeout rendered although not set")
	}

	paths := m["paths"].(map[string]any)
	if len(paths) != 3 || paths["all_others"] != nil || paths["all"] != nil {
		t.Errorf("paths = %v, want exactly test, lobby, true", paths)
	}
	if p := paths["true"].(map[string]any); p["runOnDemand"] != nil {
		t.Errorf("path true without OnDemand has runOnDemand: %v", p)
	}
	lobby := paths["lobby"].(map[string]any)
	if lobby["runOnDemandRestart"] != false || lobby["runOnDemandStartTimeout"] != "5s" || lobby["runOnDemandCloseAfter"] != "1s" {
		t.Errorf("lobby = %v", lobby)
	}
	if test := paths["test"].(map[string]any); test["runOnDemandStartTimeout"] != "10s" || test["runOnDemandCloseAfter"] != "3s" {
		t.Errorf("test defaults = %v", test)
	}
	if got := lobby["runOnDemand"]; got != "/opt/toposync/toposync-streaming engine-hook --data-dir '/var/lib/topo sync'" {
		t.Errorf("runOnDemand = %q", got)
	}

	loop := "127.0.0.1,::1"
	wantGrants := []grant{
		{"any", "", loop, "api", ""},
		{"any", "", loop, "metrics", ""},
		{"any", "", "", "read", "test"},
		{"any", "", "", "playback", "test"},
		{"any", "", "", "read", "true"},
		{"any", "", "", "playback", "true"},
		{sha("pub_test"), sha("pw-test"), loop, "publish", "test"},
		{sha("viewer"), sha("s3cret"), "", "read", "lobby"},
		{sha("viewer"), sha("s3cret"), "", "playback", "lobby"},
		{sha("pub_lobby"), sha("pw-lobby"), loop, "publish", "lobby"},
		{sha("pub_true"), sha("pw-true"), loop, "publish", "true"},
	}
	got := grants(t, m)
	for _, g := range wantGrants {
		if !slices.Contains(got, g) {
			t.Errorf("missing grant %+v", g)
		}
	}
	if len(got) != len(wantGrants) {
		t.Errorf("grants = %+v, want only %+v", got, wantGrants)
	}

	ice := m["webrtcICEServers2"].([]any)
	if len(ice) != 2 || ice[0].(map[string]any)["url"] != "stun:stun.example.org:3478" ||
		ice[1].(map[string]any)["url"] != "turn:turn.example.org:3478" ||
		ice[1].(map[string]any)["username"] != "alice" || ice[1].(map[string]any)["password"] != "pa:ss" {
		t.Errorf("webrtcICEServers2 = %v", ice)
	}
}

func TestConfigLoopbackBind(t *testing.T) {
	c := sampleInput()
	c.BindHost = "127.0.0.1"
	c.WebRTCLocalUDPAddress = "127.0.0.1:8189"
	m := decoded(t, c)
	for k, v := range map[string]string{
		"rtspAddress": "127.0.0.1:8554", "rtpAddress": "127.0.0.1:8000", "hlsAddress": "127.0.0.1:8888",
		"webrtcAddress": "127.0.0.1:8889", "webrtcLocalUDPAddress": "127.0.0.1:8189", "apiAddress": "127.0.0.1:9997",
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %s", k, m[k], v)
		}
	}
}

// Secrets with YAML and URL syntax in them reach MediaMTX exactly: the
// file holds their hashes, which MediaMTX compares with what clients send.
func TestConfigSecretsRoundTrip(t *testing.T) {
	for _, secret := range []string{"it's", "a:b", "#not-a-comment", "'; - [x]: {y}", "any", " lead and trail "} {
		user := strings.ReplaceAll(secret, ":", "") // Basic auth cannot carry ':' in a user
		c := ConfigInput{Ports: model.Ports{API: 1}, Paths: []PathInput{{Path: engine.Path{
			Name: "p", ReadUser: user, ReadPass: secret, PublishUser: user, PublishPass: secret,
		}}}}
		var users []grant
		for _, g := range grants(t, decoded(t, c)) {
			if g.action == "read" || g.action == "publish" {
				users = append(users, g)
			}
		}
		if len(users) != 2 || users[0].user != sha(user) || users[0].pass != sha(secret) ||
			users[1].user != sha(user) || users[1].pass != sha(secret) {
			t.Errorf("secret %q: users %+v", secret, users)
		}
	}
}

func TestConfigRefusals(t *testing.T) {
	base := engine.Path{Name: "p", PublishUser: "u", PublishPass: "p"}
	for name, p := range map[string]PathInput{
		"newline in read pass":   {Path: engine.Path{Name: "p", ReadUser: "v", ReadPass: "a\nb", PublishUser: "u", PublishPass: "p"}},
		"newline in publish":     {Path: engine.Path{Name: "p", PublishUser: "u", PublishPass: "a\nb"}},
		"half a read credential": {Path: engine.Path{Name: "p", ReadUser: "v", PublishUser: "u", PublishPass: "p"}},
		"no publish credentials": {Path: engine.Path{Name: "p"}},
		"colon in a user":        {Path: engine.Path{Name: "p", PublishUser: "a:b", PublishPass: "p"}},
		"all_others":             {Path: engine.Path{Name: "all_others", PublishUser: "u", PublishPass: "p"}},
		"all":                    {Path: engine.Path{Name: "all", PublishUser: "u", PublishPass: "p"}},
		"regex":                  {Path: engine.Path{Name: "~^.*$", PublishUser: "u", PublishPass: "p"}},
		"slash":                  {Path: engine.Path{Name: "a/b", PublishUser: "u", PublishPass: "p"}},
		"on demand without hook": {Path: base, OnDemand: true},
	} {
		if _, err := RenderConfig(ConfigInput{Paths: []PathInput{p}}); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
	dup := []PathInput{{Path: base}, {Path: base}}
	if _, err := RenderConfig(ConfigInput{Paths: dup}); err == nil {
		t.Error("duplicate path rendered")
	}
}

func TestHookCommand(t *testing.T) {
	got, err := hookCommand([]string{"/usr/bin/hook", "engine-hook", "it's", "a b", "", "k=v:w"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `/usr/bin/hook engine-hook 'it'\''s' 'a b' '' k=v:w`; got != want {
		t.Errorf("hookCommand = %s, want %s", got, want)
	}
	for _, argv := range [][]string{nil, {""}, {"hook", "$HOME"}, {"hook", "a\nb"}, {"hook", "a\x00"}} {
		if _, err := hookCommand(argv); err == nil {
			t.Errorf("hookCommand(%q) accepted", argv)
		}
	}
}

func TestWriteConfigAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mediamtx.yml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteConfig(path, sampleInput()); err != nil {
		t.Fatal(err)
	}
	want, _ := RenderConfig(sampleInput())
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Errorf("file = %s", got)
	}
	// A refused input leaves the old file and no temporary file behind.
	bad := sampleInput()
	bad.Paths[0].PublishPass = ""
	if err := WriteConfig(path, bad); err == nil {
		t.Fatal("bad input written")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir has %v", entries)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Error("old file changed by a refused write")
	}
}

// With a certificate, every listener but the API is encrypted: RTSPS on
// the RTSP port (strict: no plain RTSP), SRTP on the RTP pair, HTTPS for
// HLS and WebRTC. Without one, no encryption key is rendered at all.
func TestConfigTLS(t *testing.T) {
	c := sampleInput()
	c.TLSCertFile, c.TLSKeyFile = "/etc/tls/cert.pem", "/etc/tls/key.pem"
	m := decoded(t, c)
	want := map[string]any{
		"rtspEncryption": "strict", "rtspsAddress": ":8554", "srtpAddress": ":8000", "srtcpAddress": ":8001",
		"rtspServerCert": c.TLSCertFile, "rtspServerKey": c.TLSKeyFile,
		"hlsEncryption": true, "hlsServerCert": c.TLSCertFile, "hlsServerKey": c.TLSKeyFile, "hlsAddress": ":8888",
		"webrtcEncryption": true, "webrtcServerCert": c.TLSCertFile, "webrtcServerKey": c.TLSKeyFile, "webrtcAddress": ":8889",
		"apiAddress": "127.0.0.1:9997",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if _, ok := m["apiEncryption"]; ok {
		t.Error("the API (our own loopback client) must stay plain HTTP")
	}

	for k := range decoded(t, sampleInput()) {
		if strings.Contains(k, "Encryption") || strings.HasSuffix(k, "ServerKey") || strings.HasSuffix(k, "ServerCert") || strings.HasPrefix(k, "srtp") || k == "rtspsAddress" {
			t.Errorf("plain config renders %s", k)
		}
	}
	c.TLSKeyFile = ""
	if _, err := RenderConfig(c); err == nil {
		t.Error("a certificate without a key rendered")
	}
}

// engine.hls_variant is MediaMTX's hlsVariant (unset: mpegts, not
// MediaMTX's own default lowLatency), with 1 s segments and 200 ms parts.
func TestConfigHLSVariant(t *testing.T) {
	for in, want := range map[model.HLSVariant]string{"": "mpegts", model.HLSMPEGTS: "mpegts", model.HLSFMP4: "fmp4", model.HLSLowLatency: "lowLatency"} {
		c := sampleInput()
		c.HLSVariant = in
		m := decoded(t, c)
		if m["hlsVariant"] != want || m["hlsSegmentDuration"] != "200ms" || m["hlsPartDuration"] != "200ms" {
			t.Errorf("variant %q: hlsVariant %v, hlsSegmentDuration %v, hlsPartDuration %v", in, m["hlsVariant"], m["hlsSegmentDuration"], m["hlsPartDuration"])
		}
	}
}
