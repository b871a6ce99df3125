package pipeline

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/toposync/toposync-streaming/internal/model"
)

func TestSuggestName(t *testing.T) {
	cases := []struct {
		t      model.Transmission
		cam    model.Camera
		preset string
		want   string
	}{
		{model.Transmission{ID: "frente", Path: "frente"}, model.Camera{ID: "frente"}, PresetSimple, "frente__stream"},
		{model.Transmission{ID: "8c6f3d52-1d1e-4e55-9f3c-1a2b3c4d5e6f", Path: "entrada-frente"}, model.Camera{ID: "camera-frente"}, PresetDetection, "entrada_frente__camera_frente__detection"},
		{model.Transmission{ID: "8c6f3d52-1d1e-4e55-9f3c-1a2b3c4d5e6f", Path: "stream", Name: "Transmissão"}, model.Camera{ID: "frente"}, PresetSimple, "frente__stream"},
		{model.Transmission{ID: "t1", Path: "garagem"}, model.Camera{ID: "8c6f3d52-1d1e-4e55-9f3c-1a2b3c4d5e6f", Name: "Câmera Garagem"}, PresetMotionGate, "garagem__Camera_Garagem__motion"},
	}
	for _, c := range cases {
		if got := SuggestName(c.t, c.cam, c.preset); got != c.want {
			t.Errorf("SuggestName(%s, %s, %s) = %q, want %q", c.t.Path, c.cam.ID, c.preset, got, c.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"front door": "front_door", "9cam": "_9cam", "": "pipeline", "class": "class_", "São Paulo!": "Sao_Paulo", "__x__": "x"} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SafeName(strings.Repeat("a", 200)); len(got) != 120 {
		t.Errorf("long name kept %d characters", len(got))
	}
}

func TestWizardGraphs(t *testing.T) {
	want := map[string]string{
		PresetSimple:       "source>stream",
		PresetMotionGate:   "source>fps>motion>stream",
		PresetDetection:    "source>detect>stream",
		PresetTracking:     "source>detect>track>stream",
		PresetSegmentation: "source>segment>stream",
	}
	for preset, chain := range want {
		g, err := WizardGraph(preset, "cam", "tid", DefaultWizardOptions())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, n := range g.Nodes {
			ids = append(ids, n.ID)
		}
		if got := strings.Join(ids, ">"); got != chain {
			t.Errorf("%s: nodes %s, want %s", preset, got, chain)
		}
		if len(g.Edges) != len(g.Nodes)-1 || g.Edges[len(g.Edges)-1].MaxSize != 8 {
			t.Errorf("%s: edges %+v", preset, g.Edges)
		}
		var pub struct {
			TransmissionID    string   `json:"transmission_id"`
			FrameWithFallback []string `json:"frame_with_fallback"`
		}
		_ = json.Unmarshal(g.Nodes[len(g.Nodes)-1].Config, &pub)
		if pub.TransmissionID != "tid" || pub.FrameWithFallback[0] != "mask" {
			t.Errorf("%s: publish config %s", preset, g.Nodes[len(g.Nodes)-1].Config)
		}
	}
	o := DefaultWizardOptions()
	o.FPSLimit = 8
	g, _ := WizardGraph(PresetDetection, "cam", "tid", o)
	if g.Nodes[1].ID != "fps" || !strings.Contains(string(g.Nodes[1].Config), `"target_fps":8`) {
		t.Errorf("fps_limit did not add a reducer: %+v", g.Nodes)
	}
	if _, err := WizardGraph("dance_stream", "cam", "tid", o); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestQueueDropsOldest(t *testing.T) {
	q := newQueue(2)
	for i := range 5 {
		q.push(&Packet{Lifecycle: string(rune('a' + i))})
	}
	if q.dropped.Load() != 3 {
		t.Errorf("dropped %d, want 3", q.dropped.Load())
	}
	if p := q.pop(t.Context()); p.Lifecycle != "d" {
		t.Errorf("first kept packet %q, want d", p.Lifecycle)
	}
}
