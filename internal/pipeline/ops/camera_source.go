package ops

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	"github.com/toposync/toposync-streaming/internal/publisher"
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

// cameraSource emits a camera's frames as BGR24. An RTSP camera's come
// from the service's camera hub (one session per camera, one decoder per
// size, shared with the other sources of that camera; the hub reconnects
// when the camera goes away). A file or the test scene is decoded by the
// source's own ffmpeg, whose publisher.Process restarts it when it ends
// with a growing backoff inside a restart budget. Run returns only when the
// pipeline stops or the camera cannot be opened at all (no ffmpeg, a URL
// refused).
type cameraSource struct {
	cfg      CameraSourceConfig
	services pipeline.Services
	pipeline string
	node     string
	name     string // names the process in logs and log files
	log      *slog.Logger
	proc     atomic.Pointer[publisher.Process] // the latest Run's, for a file or the test scene
	frames   atomic.Pointer[camerahub.Frames]  // the latest Run's, for an RTSP camera
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
	return &cameraSource{cfg: cfg, services: env.Services, pipeline: env.Pipeline, node: env.Node, name: "camera-" + env.Pipeline + "-" + env.Node, log: env.Logger}, nil
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

// Scene geometry of the built-in test source.
const (
	testWidth  = 1280
	testHeight = 720
	testFPS    = 15
)

// TestScene is the lavfi graph of the built-in test camera: a dark grid
// with an orange square that moves for 12 s of every 30 s, so motion gates
// open and close and detectors find something.
func TestScene(width, height, fps int) string {
	box := max(8, height/5)
	return fmt.Sprintf("color=c=0x2b3a4a:s=%dx%d:r=%d,drawgrid=w=%d:h=%d:t=1:c=0x3c4d5e[bg];"+
		"color=c=0xffa020:s=%dx%d:r=%d[box];"+
		"[bg][box]overlay=x='mod(t*%d,%d)':y='%d+%d*sin(t*0.9)':enable='lt(mod(t,30),12)'",
		width, height, fps, max(8, width/8), max(8, height/6), box, box, fps,
		width/5, width-box, height/2-box/2, height/4)
}

// inputArgs are ffmpeg's input options for a file or the test scene (RTSP
// cameras come from the hub: ffmpeg never opens a network URL). A file
// may use only the file protocol and is named "file:<absolute path>", so
// nothing in a name makes ffmpeg open something else.
func (s *cameraSource) inputArgs(c model.Camera, in camerainput.Input) []string {
	if in.Kind == camerainput.TestScene {
		w, h, fps := testWidth, testHeight, testFPS
		if s.cfg.Width > 0 {
			w, h = s.cfg.Width, s.cfg.Height
		}
		if s.fps(c) > 0 {
			fps = s.fps(c)
		}
		return []string{"-re", "-f", "lavfi", "-i", TestScene(w, h, fps)}
	}
	return []string{"-protocol_whitelist", camerainput.FileProtocols, "-stream_loop", "-1", "-re", "-i", "file:" + in.Path}
}

func (s *cameraSource) fps(c model.Camera) int {
	if s.cfg.FPS > 0 {
		return s.cfg.FPS
	}
	if c.FPS != nil {
		return *c.FPS
	}
	return 0
}

// args is the whole ffmpeg command line (without the binary).
func (s *cameraSource) args(c model.Camera, in camerainput.Input, logLevel string) []string {
	args := append([]string{"-hide_banner", "-loglevel", atLeastInfo(logLevel), "-nostats"}, s.inputArgs(c, in)...)
	var filters []string
	if fps := s.fps(c); fps > 0 && in.Kind != camerainput.TestScene {
		filters = append(filters, "fps="+strconv.Itoa(fps))
	}
	if s.cfg.Width > 0 && in.Kind != camerainput.TestScene {
		filters = append(filters, fmt.Sprintf("scale=%d:%d", s.cfg.Width, s.cfg.Height))
	}
	if len(filters) > 0 {
		args = append(args, "-vf", strings.Join(filters, ","))
	}
	return append(args, "-an", "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1")
}

// atLeastInfo is ffmpeg's -loglevel for a camera: info unless a more
// verbose level is configured, because the frame size is read from the
// output description ffmpeg prints at info.
func atLeastInfo(level string) string {
	switch level {
	case "verbose", "debug", "trace":
		return level
	}
	return "info"
}

// outputSize finds the frame size in ffmpeg's description of its output.
var outputSize = regexp.MustCompile(`Video: rawvideo .*bgr24.*?, (\d+)x(\d+)`)

// sizeWait bounds the wait for the frame size once frames flow: ffmpeg
// printed it before the first frame, only our stderr reader may lag.
const sizeWait = 5 * time.Second

// Run emits the camera's frames until ctx is cancelled.
func (s *cameraSource) Run(ctx context.Context, emit func(*pipeline.Packet)) error {
	c, in, err := s.camera()
	if err != nil {
		return err
	}
	if in.Kind == camerainput.RTSP {
		return s.runHub(ctx, c, emit)
	}
	bin, err := s.services.FFmpeg()
	if err != nil {
		return err
	}
	logDir, logLevel := s.services.FFmpegLogs()
	sizes := make(chan [2]int, 1) // the running ffmpeg's frame size
	proc := &publisher.Process{
		Spec: publisher.Spec{
			Name: s.name, Binary: bin, Args: s.args(c, in, logLevel),
			OnStderrLine: func(line string) {
				if m := outputSize.FindStringSubmatch(line); m != nil {
					w, _ := strconv.Atoi(m[1])
					h, _ := strconv.Atoi(m[2])
					select { // the newest description wins; one sender, so the send never blocks
					case <-sizes:
					default:
					}
					sizes <- [2]int{w, h}
				}
			},
			Stdout: func(r io.Reader) { s.readFrames(r, sizes, emit) },
		},
		Supervision: publisher.Supervision{LogDir: logDir, Logger: s.log},
	}
	if err := proc.Initialize(); err != nil {
		return err
	}
	s.proc.Store(proc)
	<-ctx.Done()
	proc.Close()
	return ctx.Err()
}

// runHub emits an RTSP camera's frames from the camera hub at the
// configured size, limited to the configured rate (the hub drops the rest).
// The subscription outlives the camera going away: the hub reconnects and
// frames resume, without the source (or the pipeline) restarting.
func (s *cameraSource) runHub(ctx context.Context, c model.Camera, emit func(*pipeline.Packet)) error {
	src := camerahub.SourceOf(c)
	consumer := "pipeline " + s.pipeline + " node " + s.node
	frames, err := s.services.CameraFrames(src, consumer, camerahub.FrameOptions{Width: s.cfg.Width, Height: s.cfg.Height, FPS: s.fps(c)})
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
// ffmpeg restarted: the hub's view for an RTSP camera (a camera that went
// away and came back is not a restart), the own ffmpeg's supervision for a
// file or the test scene.
func (s *cameraSource) SourceStatus() (lastError string, restarts int) {
	if f := s.frames.Load(); f != nil {
		return f.Health()
	}
	if p := s.proc.Load(); p != nil {
		st := p.Status()
		return st.LastError, st.Restarts
	}
	return "", 0
}

// readFrames emits the frames of one ffmpeg run until its stdout ends.
func (s *cameraSource) readFrames(r io.Reader, sizes chan [2]int, emit func(*pipeline.Packet)) {
	defer func() {
		select { // a size this run printed must not frame the next one
		case <-sizes:
		default:
		}
	}()
	out := bufio.NewReader(r)
	if _, err := out.Peek(1); err != nil {
		return
	}
	var size [2]int
	select {
	case size = <-sizes:
	case <-time.After(sizeWait):
		s.log.Error("ffmpeg did not describe its output size; restarting it")
		return // closing stdout ends ffmpeg
	}
	lifecycle := pipeline.Open
	for {
		buf := make([]byte, size[0]*size[1]*3)
		if _, err := io.ReadFull(out, buf); err != nil {
			return
		}
		emit(&pipeline.Packet{
			Artifacts: map[string]*frame.Frame{"frame": {Width: size[0], Height: size[1], Data: buf}},
			Time:      time.Now(),
			Lifecycle: lifecycle,
		})
		lifecycle = pipeline.Update
	}
}

// redactedURL is the camera's URL for logs: never with credentials.
func redactedURL(c model.Camera) string {
	if c.Password != nil {
		return strings.ReplaceAll(c.URL, *c.Password, "***")
	}
	return c.URL
}
