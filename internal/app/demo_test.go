package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Issue 13: with ffmpeg missing the service still printed "Demo is live".
// It says what is wrong and what to do instead.
func TestDemoSaysWhenNoVideoCanBeMade(t *testing.T) {
	var out bytes.Buffer
	printDemo(&out, nil, nil, "http://127.0.0.1:8100", errors.New(`ffmpeg: exec: "ffmpeg": executable file not found in $PATH`))
	if s := out.String(); strings.Contains(s, "Demo is live") || !strings.Contains(s, "no video can be made") || !strings.Contains(s, "apt install ffmpeg") {
		t.Errorf("demo output:\n%s", s)
	}
}

// Issue 12: the demo's three outputs had three latency profiles, so they
// ran three encoders of one picture. They encode identically now (what the
// bridge groups by: size, fps, bitrate, profile), so one encoder feeds all.
func TestDemoOutputsEncodeIdentically(t *testing.T) {
	tr, err := model.DecodeTransmission(json.RawMessage(demoTransmissionJSON))
	if err != nil {
		t.Fatal(err)
	}
	targets := model.Settings{Transmissions: []model.Transmission{tr}}.Targets(model.LocalHost)
	if len(targets) != 3 {
		t.Fatalf("%d outputs, want RTSP, HLS and WebRTC", len(targets))
	}
	first := targets[0]
	for _, o := range targets[1:] {
		if o.Width != first.Width || o.Height != first.Height || o.FPS != first.FPS || o.BitrateKbps != first.BitrateKbps || o.LatencyProfile != first.LatencyProfile {
			t.Errorf("output %s encodes %dx%d@%d %d kbps %s, output %s %dx%d@%d %d kbps %s", o.OutputID, o.Width, o.Height, o.FPS, o.BitrateKbps, o.LatencyProfile,
				first.OutputID, first.Width, first.Height, first.FPS, first.BitrateKbps, first.LatencyProfile)
		}
	}
}

// Issue 14 item 4: the demo at rest cost 26-43 % of a core because its
// pipelines decoded and analysed whether or not anyone watched.
func TestDemoPipelinesRunOnDemand(t *testing.T) {
	for _, raw := range demoPipelines {
		p, err := model.DecodePipeline(json.RawMessage(raw))
		if err != nil || p.RunMode != model.RunOnDemand {
			t.Errorf("%s: run mode %q, %v; want on_demand", p.Name, p.RunMode, err)
		}
	}
}
