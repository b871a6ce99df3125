package api

import (
	"net/http"
	"time"

	"github.com/toposync/toposync-streaming/internal/bridge"
	"github.com/toposync/toposync-streaming/internal/encoder"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

// runtimeOutput is one entry of GET /runtime/outputs.
type runtimeOutput struct {
	OutputKey          string         `json:"output_key"`
	OutputID           string         `json:"output_id"`
	TransmissionID     string         `json:"transmission_id"`
	Protocol           model.Protocol `json:"protocol"`
	ResolvedEnginePath string         `json:"resolved_engine_path"`
	ViewerCount        int            `json:"viewer_count"`
	DemandSignal       bool           `json:"demand_signal"`
	PrimedUntilUnix    *float64       `json:"primed_until_unix"`
	PublisherRunning   bool           `json:"publisher_running"`
	PublisherPID       *int           `json:"publisher_pid"`
	FramesSent         uint64         `json:"publisher_frames_sent"`
	FramesDropped      uint64         `json:"publisher_frames_dropped"`
	LastError          *string        `json:"publisher_last_error"`
	ActiveCodec        *string        `json:"publisher_active_codec"`
	HardwareAccel      bool           `json:"publisher_hardware_accelerated"`
	// EncoderWarning says why the encoder that runs is not the one
	// engine.h264_encoder asked for.
	EncoderWarning *string `json:"publisher_encoder_warning"`
	// EncoderGroup names the output's encoding: outputs with the same one
	// share one encoder (same publisher_pid and counters). Null for bypass.
	EncoderGroup *string `json:"encoder_group"`
	RestartCount int     `json:"publisher_restart_count"`
}

func toRuntimeOutput(o bridge.OutputStatus) runtimeOutput {
	out := runtimeOutput{
		OutputKey: o.OutputKey, OutputID: o.OutputID, TransmissionID: o.TransmissionID, Protocol: o.Protocol,
		ResolvedEnginePath: o.Path, ViewerCount: o.ViewerCount, DemandSignal: o.DemandSignal, PrimedUntilUnix: o.PrimedUntilUnix,
		PublisherRunning: o.PublisherRunning, FramesSent: o.FramesSent, FramesDropped: o.FramesDropped, LastError: o.LastError,
	}
	if e := o.Encoder; e != nil {
		codec := string(e.Codec) // what runs, after any fallback
		out.ActiveCodec, out.HardwareAccel = &codec, e.Hardware
		if e.Warning != "" {
			out.EncoderWarning = &e.Warning
		}
	}
	if g := o.EncoderGroup; g != "" {
		out.EncoderGroup = &g
	}
	if p := o.Publisher; p != nil {
		out.RestartCount = p.Restarts
		if p.PID > 0 {
			pid := p.PID
			out.PublisherPID = &pid
		}
	}
	return out
}

func (s *server) runtimeOutputs(w http.ResponseWriter, _ *http.Request) {
	outputs := []runtimeOutput{}
	for _, o := range s.bridge.Outputs() {
		outputs = append(outputs, toRuntimeOutput(o))
	}
	writeJSON(w, http.StatusOK, map[string]any{"outputs": outputs, "updated_at_unix": float64(time.Now().UnixMicro()) / 1e6})
}

// publisherDiagnostics is one publisher in GET /runtime/diagnostics. It
// never holds the publish URL's credentials.
type publisherDiagnostics struct {
	model.Target
	Running         bool            `json:"running"`
	PID             *int            `json:"pid"`
	InputMode       model.InputMode `json:"input_mode"`
	InputReason     string          `json:"input_reason"`
	FramesSent      uint64          `json:"frames_sent"`
	FramesDropped   uint64          `json:"frames_dropped"`
	LastFrameAtUnix *float64        `json:"last_frame_at_unix"`
	RestartCount    int             `json:"restart_count"`
	BudgetExhausted bool            `json:"restart_budget_exhausted"`
	LastError       *string         `json:"last_error"`
	LogPath         string          `json:"log_path"`
	StderrTail      []string        `json:"stderr_tail"`
	// Encoder is the H.264 encoder asked for and the one that runs, with
	// the reason when they differ (a hardware encoder that failed its probe).
	Encoder *encoder.Selection `json:"encoder"`
}

func (s *server) runtimeDiagnostics(w http.ResponseWriter, r *http.Request) {
	publishers := map[string]publisherDiagnostics{}
	var targets []model.Target
	for _, o := range s.bridge.Outputs() {
		targets = append(targets, o.Target)
		if o.Publisher == nil {
			if o.LastError != nil { // it cannot start: say why (its viewers are refused with it)
				publishers[o.OutputKey] = publisherDiagnostics{Target: o.Target, InputMode: o.InputMode, InputReason: o.InputReason, LastError: o.LastError, StderrTail: []string{}}
			}
			continue
		}
		p := o.Publisher
		d := publisherDiagnostics{
			Target: o.Target, Running: p.Running, InputMode: o.InputMode, InputReason: o.InputReason, FramesSent: o.FramesSent, FramesDropped: o.FramesDropped,
			LastFrameAtUnix: o.LastFrameAtUnix, RestartCount: p.Restarts, BudgetExhausted: p.BudgetPaused, LastError: o.LastError,
			LogPath: p.LogPath, StderrTail: p.StderrTail, Encoder: o.Encoder,
		}
		if p.PID > 0 {
			pid := p.PID
			d.PID = &pid
		}
		publishers[o.OutputKey] = d
	}
	if targets == nil {
		targets = []model.Target{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"server_id": s.serverID,
		"engine":    s.engine.Status(s.viewerHost(r)),
		"publisher": map[string]any{"ffmpeg_path": s.ffmpeg.path, "ffmpeg_error": s.ffmpeg.err, "outputs": publishers},
		"runtime_state": map[string]any{
			"transmissions": s.arbiter.Snapshot(),
		},
		"bridge":    map[string]any{"targets": targets, "host_server_id": s.serverID},
		"pipelines": s.pipelineStatuses(),
	})
}

// demandOutput is one output in GET /transmissions/{id}/demand.
type demandOutput struct {
	OutputID    string `json:"output_id"`
	OutputKey   string `json:"output_key"`
	ViewerCount int    `json:"viewer_count"`
}

func (s *server) transmissionDemand(w http.ResponseWriter, r *http.Request) {
	t, err := s.lookup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	outputs := []demandOutput{}
	total := 0
	primed := false
	for _, o := range s.bridge.Outputs() {
		if o.TransmissionID != t.ID {
			continue
		}
		outputs = append(outputs, demandOutput{OutputID: o.OutputID, OutputKey: o.OutputKey, ViewerCount: o.ViewerCount})
		total += o.ViewerCount
		primed = primed || o.PrimedUntilUnix != nil
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"transmission_id": t.ID, "demand_signal": total > 0, "viewer_count_total": total, "primed": primed, "outputs": outputs,
	})
}

func (s *server) primeDemand(w http.ResponseWriter, r *http.Request) {
	t, err := s.lookup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.bridge.Prime(t.ID)
	n := 0 // the outputs the prime runs: those of t once its paths are in the engine
	if t.Enabled {
		n = len(t.Targets())
	}
	writeJSON(w, http.StatusOK, map[string]any{"transmission_id": t.ID, "primed": n > 0, "primed_outputs": n})
}

// pipelineStatuses is every stored pipeline's state by name (sources'
// errors and restarts included).
func (s *server) pipelineStatuses() map[string]pipeline.Status {
	out := map[string]pipeline.Status{}
	for _, p := range s.store.Current().Pipelines {
		if st, ok := s.pipelines.Status(p.Name); ok {
			out[p.Name] = st
		}
	}
	return out
}
