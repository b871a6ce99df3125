package ops

import (
	"encoding/json"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// forwardOf tells whether the publish node sinkID of g only forwards an
// RTSP camera: the graph is exactly camera.source -> [core.fps_reducer] ->
// stream.publish_video. Then the writer declares the camera (URL and rate)
// and the runtime may read the camera itself instead of decoding and
// re-encoding it. Local files and test scenes are never forwarded, nor
// anything but an rtsp:// or rtsps:// URL camerainput accepts.
func forwardOf(g model.Graph, sinkID string, services pipeline.Services) *arbiter.Forward {
	if len(g.Nodes) < 2 || len(g.Nodes) > 3 || len(g.Edges) != len(g.Nodes)-1 {
		return nil
	}
	next := map[string]string{}
	incoming := map[string]int{}
	for _, e := range g.Edges {
		if _, dup := next[e.From.Node]; dup {
			return nil
		}
		next[e.From.Node] = e.To.Node
		incoming[e.To.Node]++
	}
	var chain []*model.Node
	for _, n := range g.Nodes {
		if n.Type == "camera.source" && incoming[n.ID] == 0 {
			for id := n.ID; id != ""; id = next[id] {
				chain = append(chain, g.Node(id))
				if len(chain) > 3 {
					return nil
				}
			}
		}
	}
	if len(chain) != len(g.Nodes) || chain[len(chain)-1].ID != sinkID || (len(chain) == 3 && chain[1].Type != "core.fps_reducer") {
		return nil
	}
	var src CameraSourceConfig
	if json.Unmarshal(chain[0].Config, &src) != nil {
		return nil
	}
	cam := model.Camera{URL: src.URL}
	if src.URL == "" {
		cam.URL = src.RTSPURL
	}
	if src.Username != "" {
		cam.Username = &src.Username
	}
	if src.Password != "" {
		cam.Password = &src.Password
	}
	if src.CameraID != "" {
		if services == nil {
			return nil
		}
		stored, ok := services.Camera(src.CameraID)
		if !ok {
			return nil
		}
		cam = stored
	}
	if in, err := (camerainput.Policy{}).Check(cam.URL); err != nil || in.Kind != camerainput.RTSP {
		return nil // only network cameras are pulled directly
	}
	fps := src.FPS
	if fps == 0 && cam.FPS != nil {
		fps = *cam.FPS
	}
	if len(chain) == 3 {
		var r struct {
			TargetFPS float64 `json:"target_fps"`
		}
		if json.Unmarshal(chain[1].Config, &r) == nil && r.TargetFPS > 0 && (fps == 0 || int(r.TargetFPS) < fps) {
			fps = max(1, int(r.TargetFPS))
		}
	}
	return &arbiter.Forward{Source: camerahub.SourceOf(cam), RedactedURL: redactedURL(cam), FPS: fps}
}
