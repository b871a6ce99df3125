package model

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeProcessingServer(t *testing.T) {
	p, err := DecodeProcessingServer(json.RawMessage(`{"name":" Edge One ","url":"http://10.0.0.5:8100/","username":"core","password":"pw"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "edge-one" || p.Name != "Edge One" || p.URL != "http://10.0.0.5:8100" || *p.Username != "core" || *p.Password != "pw" {
		t.Errorf("decoded %+v", p)
	}
	p, err = DecodeProcessingServer(json.RawMessage(`{"id":" EDGE-1 ","url":"https://edge.example:9443"}`))
	if err != nil || p.ID != "edge-1" || p.Name != "edge-1" || p.Username != nil || p.Password != nil {
		t.Errorf("decoded %+v, %v", p, err)
	}

	for body, want := range map[string]string{
		`{"url":"http://a:1"}`:                                                    "id: Field required",
		`{"id":"local","url":"http://a:1"}`:                                       "'local' is reserved",
		`{"id":"a b","url":"http://a:1"}`:                                         "Use only letters",
		`{"id":"a"}`:                                                              "url: Field required",
		`{"id":"a","url":"ftp://a:1"}`:                                            "http:// or https://",
		`{"id":"a","url":"http://u:p@a:1"}`:                                       "not in the URL",
		`{"id":"a","url":"http://a:1?x=1"}`:                                       "query",
		`{"id":"a","url":"http://:1"}`:                                            "needs a host",
		`{"id":"a","url":"http://a:1","kind":"http"}`:                             "kind: Extra inputs",
		`{"id":"a","url":"http://a:1","username":7}`:                              "username: Input should be a valid string",
		`{"id":"a","url":"http://a:1","name":"` + strings.Repeat("n", 201) + `"}`: "at most 200",
	} {
		_, err := DecodeProcessingServer(json.RawMessage(body), "body")
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestProcessingServerJSONHidesPassword(t *testing.T) {
	pw, user := "secret", "core"
	raw, err := json.Marshal(ProcessingServer{ID: "edge-1", Name: "Edge", URL: "http://h:1", Username: &user, Password: &pw})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(raw); got != `{"id":"edge-1","name":"Edge","url":"http://h:1","username":"core","password_set":true}` {
		t.Errorf("json %s", got)
	}
}

func TestRewriteHost(t *testing.T) {
	cases := []struct{ in, host, want string }{
		{"rtsp://127.0.0.1:8554/cam", "10.0.0.5", "rtsp://10.0.0.5:8554/cam"},
		{"http://127.0.0.1:8888/cam/index.m3u8?x=1", "edge.example", "http://edge.example:8888/cam/index.m3u8?x=1"},
		{"http://[::1]:8889/cam/whep", "fd00::5", "http://[fd00::5]:8889/cam/whep"},
		{"rtsp://127.0.0.1:8554/cam", "fd00::5", "rtsp://[fd00::5]:8554/cam"},
		{"http://localhost/cam", "fd00::5", "http://[fd00::5]/cam"},
		{"rtsp://u:p@127.0.0.1:8554/cam", "h", "rtsp://h:8554/cam"},
		{"not a url", "h", "not a url"},
		{"rtsp://127.0.0.1:8554/cam", "", "rtsp://127.0.0.1:8554/cam"},
	}
	for _, c := range cases {
		if got := RewriteHost(c.in, c.host); got != c.want {
			t.Errorf("RewriteHost(%q, %q) = %q, want %q", c.in, c.host, got, c.want)
		}
	}
	if h := (ProcessingServer{URL: "http://[fd00::5]:8100"}).Hostname(); h != "fd00::5" {
		t.Errorf("Hostname = %q", h)
	}
}

func TestStoredProcessingServers(t *testing.T) {
	pw := "pw"
	c := DefaultConfig()
	c.ProcessingServers = []ProcessingServer{{ID: "edge-1", Name: "Edge", URL: "http://h:1", Password: &pw}}
	stored, err := EncodeStored(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored.ProcessingServers), `"password":"pw"`) {
		t.Errorf("stored form must keep the password: %s", stored.ProcessingServers)
	}
	back, err := DecodeStored(stored, time.Now())
	if err != nil || len(back.ProcessingServers) != 1 || *back.ProcessingServers[0].Password != "pw" || back.FindProcessingServer(" EDGE-1") != 0 {
		t.Fatalf("round trip: %+v, %v", back.ProcessingServers, err)
	}
	// Files written before the list existed have none.
	withServers := func(servers json.RawMessage) Stored {
		s := stored
		s.ProcessingServers = servers
		return s
	}
	old, err := DecodeStored(withServers(nil), time.Now())
	if err != nil || old.ProcessingServers == nil || len(old.ProcessingServers) != 0 {
		t.Errorf("old file: %+v, %v", old.ProcessingServers, err)
	}
	dup := json.RawMessage(`[{"id":"a","url":"http://h:1"},{"id":"A","url":"http://h:2"}]`)
	var ce *ConflictError
	if _, err := DecodeStored(withServers(dup), time.Now()); !errors.As(err, &ce) || ce.Msg != "Duplicate processing server id: a" {
		t.Errorf("duplicate: %v", err)
	}
	bad := json.RawMessage(`[{"id":"a"}]`)
	if _, err := DecodeStored(withServers(bad), time.Now()); err == nil || !strings.Contains(err.Error(), "processing_servers[0].url") {
		t.Errorf("invalid: %v", err)
	}
}
