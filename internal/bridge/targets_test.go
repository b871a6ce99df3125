package bridge

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
)

func TestTargets(t *testing.T) {
	s, err := model.DecodeSettings(json.RawMessage(`{"transmissions":[
		{"id":"a","path":"front","placeholder":"black","arbitration":"latest","outputs":[
			{"id":"hd","protocol":"hls","resolution":{"width":1281,"height":721},"fps_limit":25,"bitrate_kbps":3000,"latency_profile":"low","resize_mode":"none"},
			{"id":"x","protocol":"rtsp","width":640,"height":360,"fps":5},
			{"id":"off","protocol":"rtsp","enabled":false}]},
		{"id":"b","path":"bare"},
		{"id":"c","path":"disabled","enabled":false,"outputs":[{"protocol":"rtsp"}]},
		{"id":"d","path":"remote","host_server_id":"edge","outputs":[{"protocol":"rtsp"}]}
	]}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := Targets(s, "local")
	want := []Target{
		{OutputKey: "a:hd", OutputID: "hd", TransmissionID: "a", Protocol: "hls", Path: "front-hd", Width: 1280, Height: 720, FPS: 25, BitrateKbps: 3000, LatencyProfile: "low", ResizeMode: "none", Placeholder: "black", Arbitration: "latest"},
		{OutputKey: "a:x", OutputID: "x", TransmissionID: "a", Protocol: "rtsp", Path: "front-x", Width: 640, Height: 360, FPS: 5, LatencyProfile: "normal", ResizeMode: "contain", Placeholder: "black", Arbitration: "latest"},
		{OutputKey: "b:default", OutputID: "default", TransmissionID: "b", Protocol: "rtsp", Path: "bare", Width: 1280, Height: 720, FPS: 12, LatencyProfile: "normal", ResizeMode: "contain", Placeholder: "gray", Arbitration: "priority_latest"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d targets: %+v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d\n got  %+v\n want %+v", i, got[i], want[i])
		}
	}
	if remote := Targets(s, "edge"); len(remote) != 1 || remote[0].Path != "remote" {
		t.Errorf("targets on edge: %+v", remote)
	}
}
