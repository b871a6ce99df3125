package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
)

func init() {
	pipeline.Register(pipeline.Info{Type: "camera.source", Inputs: 0, Outputs: 1, Factory: newCameraSource})
}

// CameraSourceConfig is camera.source's configuration: a stored camera
// (camera_id) or a URL with optional credentials.
type CameraSourceConfig struct {
	CameraID string `json:"camera_id"`
	URL      string `json:"url"`
	RTSPURL  string `json:"rtsp_url"` // the original's name for url
	Username string `json:"username"`
	Password string `json:"password"`
	Backend  string `json:"backend"` // auto | ffmpeg | opencv: all decode with ffmpeg here
	FPS      int    `json:"fps"`     // 0: the source's own rate
	Width    int    `json:"width"`   // with height: scale to this size
	Height   int    `json:"height"`
}

// cameraSource emits a camera's frames as BGR24, from the service's camera
// hub, shared with the other sources of that camera: an RTSP camera's from
// one session per camera and one decoder per size (the hub reconnects when
// the camera goes away), a file's or the test scene's from one ffmpeg per
// camera and size (restarted with a growing backoff when it dies). Run
// returns only when the pipeline stops or the camera cannot be opened at
// all (no ffmpeg, a URL refused).
type cameraSource struct {
	cfg      CameraSourceConfig
	services pipeline.Services
	pipeline string
	node     string
	frames   atomic.Pointer[camerahub.Frames] // the latest Run's
}

func newCameraSource(raw json.RawMessage, env pipeline.Env) (any, error) {
	cfg := CameraSourceConfig{Backend: "auto"}
	if err := pipeline.DecodeConfig(raw, &cfg); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		cfg.URL = cfg.RTSPURL
	}
	switch {
	case cfg.CameraID == "" && cfg.URL == "":
		return nil, errors.New("camera_id or url is required")
	case cfg.Backend != "auto" && cfg.Backend != "ffmpeg" && cfg.Backend != "opencv":
		return nil, fmt.Errorf("backend must be auto, ffmpeg or opencv, not %q", cfg.Backend)
	case cfg.FPS < 0 || cfg.FPS > model.MaxFPS:
		return nil, fmt.Errorf("fps must be 0..%d", model.MaxFPS)
	case (cfg.Width == 0) != (cfg.Height == 0) || cfg.Width < 0 || cfg.Height < 0 || cfg.Width > model.MaxWidth || cfg.Height > model.MaxHeight:
		return nil, errors.New("width and height go together, within 1..7680 x 1..4320")
	}
	if cfg.CameraID != "" && env.Services != nil {
		if _, ok := env.Services.Camera(cfg.CameraID); !ok {
			return nil, fmt.Errorf("camera %q does not exist", cfg.CameraID)
		}
	}
	if cfg.CameraID == "" && env.Services != nil {
		if _, err := env.Services.CameraPolicy().Check(cfg.URL); err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
	}
	return &cameraSource{cfg: cfg, services: env.Services, pipeline: env.Pipeline, node: env.Node}, nil
}

// camera is the source as a camera record, credentials included, and
// what it opens. The input is checked here again, whatever checked it
// when it was saved: settings.json may have been edited by hand.
func (s *cameraSource) camera() (model.Camera, camerainput.Input, error) {
	c, err := s.record()
	if err != nil {
		return c, camerainput.Input{}, err
	}
	in, err := s.services.CameraPolicy().Check(c.URL)
	if err != nil {
		if s.cfg.CameraID != "" {
			return c, in, fmt.Errorf("camera %q: url refused: %w", s.cfg.CameraID, err)
		}
		return c, in, fmt.Errorf("url refused: %w", err)
	}
	return c, in, nil
}

// record is the source as a camera record, credentials included.
func (s *cameraSource) record() (model.Camera, error) {
	if s.cfg.CameraID != "" {
		c, ok := s.services.Camera(s.cfg.CameraID)
		if !ok {
			return c, fmt.Errorf("camera %q does not exist", s.cfg.CameraID)
		}
		return c, nil
	}
	c := model.Camera{ID: s.cfg.URL, URL: s.cfg.URL}
	if s.cfg.Username != "" {
		c.Username = &s.cfg.Username
	}
	if s.cfg.Password != "" {
		c.Password = &s.cfg.Password
	}
	return c, nil
}

// fps is the rate the source asks for: its own setting, else the camera's.
func (s *cameraSource) fps(c model.Camera) int {
	if s.cfg.FPS > 0 {
		return s.cfg.FPS
	}
	if c.FPS != nil {
		return *c.FPS
	}
	return 0
}

// Run emits the camera's frames from the camera hub at the configured
// size, limited to the configured rate (the hub drops the rest), until ctx
// is cancelled. The subscription outlives the camera going away or its
// ffmpeg dying: the hub reconnects or restarts it and frames resume,
// without the source (or the pipeline) restarting.
func (s *cameraSource) Run(ctx context.Context, emit func(*pipeline.Packet)) error {
	c, in, err := s.camera()
	if err != nil {
		return err
	}
	consumer := "pipeline " + s.pipeline + " node " + s.node
	opts := camerahub.FrameOptions{Width: s.cfg.Width, Height: s.cfg.Height, FPS: s.fps(c)}
	var frames *camerahub.Frames
	if in.Kind == camerainput.RTSP {
		frames, err = s.services.CameraFrames(camerahub.SourceOf(c), consumer, opts)
	} else {
		frames, err = s.services.LocalFrames(camerahub.LocalOf(c, in), consumer, opts)
	}
	if err != nil {
		return err
	}
	defer frames.Close()
	s.frames.Store(frames)
	lifecycle := pipeline.Open
	for {
		f, err := frames.Next(ctx)
		if err != nil {
			return err // ctx's when the pipeline stops
		}
		emit(&pipeline.Packet{Artifacts: map[string]*frame.Frame{"frame": f.Frame}, Time: f.Time, Lifecycle: lifecycle})
		lifecycle = pipeline.Update
	}
}

// SourceStatus reports why no frame comes and how often the decoding
// ffmpeg restarted, as the hub sees it (an RTSP camera that went away and
// came back is not a restart).
func (s *cameraSource) SourceStatus() (lastError string, restarts int) {
	if f := s.frames.Load(); f != nil {
		return f.Health()
	}
	return "", 0
}

// redactedURL is the camera's URL for logs: never with credentials.
func redactedURL(c model.Camera) string {
	if c.Password != nil {
		return strings.ReplaceAll(c.URL, *c.Password, "***")
	}
	return c.URL
}
