package model

import (
	"encoding/json"
	"testing"
	"time"
)

func TestTargets(t *testing.T) {
	s, err := DecodeSettings(json.RawMessage(`{"transmissions":[
		{"id":"a","path":"front","placeholder":"black","arbitration":"latest","outputs":[
			{"id":"hd","protocol":"hls","resolution":{"width":1281,"height":721},"fps_limit":25,"bitrate_kbps":3000,"latency_profile":"low","resize_mode":"none","authentication":{"enabled":true,"username":"viewer","password":"secret"}},
			{"id":"x","protocol":"rtsp","width":640,"height":360,"fps":5},
			{"id":"off","protocol":"rtsp","enabled":false}]},
		{"id":"b","path":"bare"},
		{"id":"c","path":"disabled","enabled":false,"outputs":[{"protocol":"rtsp"}]},
		{"id":"d","path":"remote","host_server_id":"edge","outputs":[{"protocol":"rtsp"}]}
	]}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := s.Targets("local")
	want := []Target{
		{OutputKey: "a:hd", OutputID: "hd", TransmissionID: "a", Protocol: "hls", Path: "front-hd", Width: 1280, Height: 720, FPS: 25, BitrateKbps: 3000, LatencyProfile: "low", ResizeMode: "none", Placeholder: "black", Arbitration: "latest"},
		{OutputKey: "a:x", OutputID: "x", TransmissionID: "a", Protocol: "rtsp", Path: "front-x", Width: 640, Height: 360, FPS: 5, LatencyProfile: "normal", ResizeMode: "contain", Placeholder: "black", Arbitration: "latest"},
		{OutputKey: "b:default", OutputID: "default", TransmissionID: "b", Protocol: "rtsp", Path: "bare", Width: 1280, Height: 720, FPS: 12, LatencyProfile: "normal", ResizeMode: "contain", Placeholder: "gray", Arbitration: "priority_latest"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d targets: %+v", len(got), got)
	}
	want[0].ReadUser, want[0].ReadPass = "viewer", "secret"
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
	if remote := s.Targets("edge"); len(remote) != 1 || remote[0].Path != "remote" {
		t.Errorf("targets on edge: %+v", remote)
	}
}

func TestHostedHere(t *testing.T) {
	for _, c := range []struct {
		host, server string
		want         bool
	}{
		{"local", "local", true},
		{"", "local", true}, // an empty host is local
		{"edge", "edge", true},
		{"EDGE ", "edge", true},
		{"local", "edge", false}, // a processing server never runs the core's transmissions
		{"edge", "local", false},
		{"other", "edge", false},
	} {
		if got := HostedHere(c.host, c.server); got != c.want {
			t.Errorf("HostedHere(%q, %q) = %v, want %v", c.host, c.server, got, c.want)
		}
	}
}

func TestLargestOutput(t *testing.T) {
	tr, err := DecodeTransmission(json.RawMessage(`{"outputs":[{"protocol":"hls","resolution":{"width":1920,"height":1080}},{"protocol":"rtsp","resolution":{"width":3841,"height":2160},"enabled":false},{"protocol":"rtsp","width":2000,"height":1200}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := tr.LargestOutput(); w != 2000 || h != 1200 {
		t.Errorf("largest %dx%d, want the enabled 2000x1200 (from its extras)", w, h)
	}
	var none Transmission
	if w, h := none.LargestOutput(); w != DefaultWidth || h != DefaultHeight {
		t.Errorf("without outputs %dx%d, want the default output's size", w, h)
	}
}
