package ops

import (
	"encoding/json"
	"strings"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Bypass is a writer whose pipeline only forwards a camera (camera.source,
// optionally core.fps_reducer, then stream.publish_video): its publisher
// can pull the camera itself and skip decoding and re-encoding frames.
type Bypass struct {
	WriterID       string
	TransmissionID string
	SourceURL      string // with credentials: never log it
	RedactedURL    string // for diagnostics
	FPS            int    // 0: the camera's own rate
	Mode           string // auto or force_on
}

// BypassCandidates finds the bypass-capable writers among the enabled
// pipelines of serverID, by writer id.
func BypassCandidates(c model.Config, serverID string) map[string]Bypass {
	out := map[string]Bypass{}
	for _, p := range c.Pipelines {
		if !p.Enabled || !(p.ProcessingServerID == serverID || (p.ProcessingServerID == model.LocalHost && serverID == model.LocalHost)) {
			continue
		}
		if b, ok := bypassOf(c, p); ok {
			out[b.WriterID] = b
		}
	}
	return out
}

// bypassOf checks the exact shape source -> [fps] -> publish.
func bypassOf(c model.Config, p model.Pipeline) (Bypass, bool) {
	g := p.Graph
	if len(g.Nodes) < 2 || len(g.Nodes) > 3 || len(g.Edges) != len(g.Nodes)-1 {
		return Bypass{}, false
	}
	next := map[string]string{}
	incoming := map[string]int{}
	for _, e := range g.Edges {
		if _, dup := next[e.From.Node]; dup {
			return Bypass{}, false
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
					return Bypass{}, false
				}
			}
		}
	}
	if len(chain) != len(g.Nodes) || chain[len(chain)-1].Type != "stream.publish_video" || (len(chain) == 3 && chain[1].Type != "core.fps_reducer") {
		return Bypass{}, false
	}
	pub, _, err := ParsePublishConfig(chain[len(chain)-1].Config)
	if err != nil || pub.BypassMode == "force_off" {
		return Bypass{}, false
	}
	var src CameraSourceConfig
	if json.Unmarshal(chain[0].Config, &src) != nil {
		return Bypass{}, false
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
		i := c.FindCamera(src.CameraID)
		if i < 0 {
			return Bypass{}, false
		}
		cam = c.Cameras[i]
	}
	if !strings.HasPrefix(strings.ToLower(cam.URL), "rtsp://") {
		return Bypass{}, false // only network cameras are pulled directly
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
	return Bypass{
		WriterID: p.Name + ":" + chain[len(chain)-1].ID, TransmissionID: pub.TransmissionID,
		SourceURL: cam.SourceURL(), RedactedURL: redactedURL(cam), FPS: fps, Mode: pub.BypassMode,
	}, true
}
