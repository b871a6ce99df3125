package app

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

// The demo's objects: a test-scene camera, a transmission with RTSP, HLS
// and WebRTC outputs, and two pipelines writing to it: a motion-gated one
// (priority 10, boxes drawn around what moves) and a continuous one
// (priority 0), so the picture switches between them as the scene moves.
// Both are on_demand: nobody watching, they rest (no scene ffmpeg, no
// analysis), so the demo at rest costs next to nothing.
const (
	demoCamera       = "demo-camera"
	demoTransmission = "demo"
)

// The three outputs encode identically, so they share one encoder (see the
// bridge). ultra_low for all: WebRTC, the dashboard's first choice, is
// where encoder delay shows; HLS's segments dwarf any preset's; and at
// 2.5 Mbit/s for 720p15 x264's fastest preset loses little quality.
const demoTransmissionJSON = `{"id": "demo", "name": "Demo", "path": "demo", "arbitration": "priority_latest", "placeholder": "gray",
 "outputs": [
  {"id": "rtsp", "protocol": "rtsp", "resolution": {"width": 1280, "height": 720}, "fps_limit": 15, "bitrate_kbps": 2500, "latency_profile": "ultra_low"},
  {"id": "hls", "protocol": "hls", "resolution": {"width": 1280, "height": 720}, "fps_limit": 15, "bitrate_kbps": 2500, "latency_profile": "ultra_low"},
  {"id": "webrtc", "protocol": "webrtc", "resolution": {"width": 1280, "height": 720}, "fps_limit": 15, "bitrate_kbps": 2500, "latency_profile": "ultra_low"}]}`

var demoPipelines = []string{
	`{"name": "demo__motion", "run_mode": "on_demand", "graph": {"schema_version": 1,
	 "nodes": [
	  {"id": "source", "type": "camera.source", "config": {"camera_id": "demo-camera"}},
	  {"id": "motion", "type": "camera.motion_gate", "config": {"threshold": 0.002, "activation_frames": 2, "hold_seconds": 2}},
	  {"id": "detect", "type": "vision.detect", "config": {"emit_mode": "annotate"}},
	  {"id": "stream", "type": "stream.publish_video", "config": {"transmission_id": "demo", "writer_priority": 10}}],
	 "edges": [
	  {"from": {"node": "source", "port": "out"}, "to": {"node": "motion", "port": "in"}, "maxsize": 2},
	  {"from": {"node": "motion", "port": "out"}, "to": {"node": "detect", "port": "in"}, "maxsize": 2},
	  {"from": {"node": "detect", "port": "out"}, "to": {"node": "stream", "port": "in"}, "maxsize": 8}]}}`, `{"name": "demo__continuous", "run_mode": "on_demand", "graph": {"schema_version": 1,
	 "nodes": [
	  {"id": "source", "type": "camera.source", "config": {"camera_id": "demo-camera"}},
	  {"id": "stream", "type": "stream.publish_video", "config": {"transmission_id": "demo", "writer_priority": 0}}],
	 "edges": [{"from": {"node": "source", "port": "out"}, "to": {"node": "stream", "port": "in"}, "maxsize": 8}]}}`,
}

// ensureDemo creates the demo's objects that are missing and enables the
// engine. Objects that exist are left as the user changed them.
func ensureDemo(st *store.Store) error {
	_, err := st.UpdateConfig(func(c *model.Config) error {
		if c.FindCamera(demoCamera) < 0 {
			cam, err := model.DecodeCamera(json.RawMessage(`{"id": "demo-camera", "name": "Demo camera (test scene)", "url": "testsrc", "fps": 15}`))
			if err != nil {
				return err
			}
			c.Cameras = append(c.Cameras, cam)
		}
		if c.Streams.Find(demoTransmission) < 0 {
			t, err := model.DecodeTransmission(json.RawMessage(demoTransmissionJSON))
			if err != nil {
				return err
			}
			t.StampMissing(time.Now())
			c.Streams.Transmissions = append([]model.Transmission{t}, c.Streams.Transmissions...)
		}
		for _, raw := range demoPipelines {
			p, err := model.DecodePipeline(json.RawMessage(raw))
			if err != nil {
				return err
			}
			if c.FindPipeline(p.Name) < 0 {
				c.Pipelines = append(c.Pipelines, p)
			}
		}
		c.Streams.Engine.Enabled = true
		return nil
	})
	return err
}

// printDemo tells the user where to watch; base is the API's root URL
// (http:// or https://). The engine manager has applied the settings by
// now, so its state says whether the engine runs.
func printDemo(out io.Writer, m *engine.Manager, st *store.Store, base string, ffmpegErr error) {
	if ffmpegErr != nil {
		fmt.Fprintf(out, "\nThe demo is configured, but no video can be made: %v\nInstall ffmpeg (apt install ffmpeg) or point TOPOSYNC_STREAMING_FFMPEG_PATH at it, then restart.\n\n", ffmpegErr)
		return
	}
	state := m.State()
	if !state.Running {
		fmt.Fprintf(out, "\nThe demo is configured, but the engine did not start: see GET %s/api/streams/engine/status\n\n", base)
		return
	}
	ports := state.Ports
	i := st.Current().Streams.Find(demoTransmission)
	if i < 0 {
		return
	}
	t := st.Current().Streams.Transmissions[i]
	fmt.Fprintf(out, "\nDemo is live (a test scene, two pipelines writing to transmission %q):\n", t.Name)
	for _, o := range t.EnabledOutputs() {
		u := model.PlaybackURL(o.Protocol, "127.0.0.1", ports, t.OutputPath(o), m.TLS != nil)
		switch o.Protocol {
		case model.ProtocolRTSP:
			fmt.Fprintf(out, "  RTSP:      ffplay -rtsp_transport tcp %s   (or open it in VLC)\n", u)
		case model.ProtocolHLS:
			fmt.Fprintf(out, "  HLS:       ffplay %s\n", u)
		case model.ProtocolWebRTC:
			fmt.Fprintf(out, "  WebRTC:    %s (WHEP)\n", u)
		}
	}
	fmt.Fprintf(out, "  Dashboard: %s/\n  Settings:  %s/settings\n\n", base, base)
}
