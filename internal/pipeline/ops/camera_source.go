package ops

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

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

// cameraSource decodes a camera with an ffmpeg subprocess into BGR24
// frames. When ffmpeg ends (camera gone, network down) Run returns and the
// runner starts it again with a growing backoff.
type cameraSource struct {
	cfg      CameraSourceConfig
	services pipeline.Services
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
	return &cameraSource{cfg: cfg, services: env.Services}, nil
}

// camera is the source as a camera record, credentials included.
func (s *cameraSource) camera() (model.Camera, error) {
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

// inputArgs are ffmpeg's input options for the camera.
func (s *cameraSource) inputArgs(c model.Camera) []string {
	switch src := c.SourceURL(); {
	case c.URL == model.TestSource:
		w, h, fps := testWidth, testHeight, testFPS
		if s.cfg.Width > 0 {
			w, h = s.cfg.Width, s.cfg.Height
		}
		if s.fps(c) > 0 {
			fps = s.fps(c)
		}
		return []string{"-re", "-f", "lavfi", "-i", TestScene(w, h, fps)}
	case strings.HasPrefix(strings.ToLower(src), "rtsp://"):
		return []string{"-rtsp_transport", "tcp", "-i", src}
	case isFile(src):
		return []string{"-stream_loop", "-1", "-re", "-i", src}
	default:
		return []string{"-i", src}
	}
}

func isFile(p string) bool {
	info, err := os.Stat(p)
	return err == nil && info.Mode().IsRegular()
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

// Args is the whole ffmpeg command line (without the binary).
func (s *cameraSource) args(c model.Camera) []string {
	args := append([]string{"-hide_banner", "-loglevel", "info", "-nostats"}, s.inputArgs(c)...)
	var filters []string
	if fps := s.fps(c); fps > 0 && c.URL != model.TestSource {
		filters = append(filters, "fps="+strconv.Itoa(fps))
	}
	if s.cfg.Width > 0 && c.URL != model.TestSource {
		filters = append(filters, fmt.Sprintf("scale=%d:%d", s.cfg.Width, s.cfg.Height))
	}
	if len(filters) > 0 {
		args = append(args, "-vf", strings.Join(filters, ","))
	}
	return append(args, "-an", "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1")
}

// outputSize finds the frame size in ffmpeg's description of its output.
var outputSize = regexp.MustCompile(`Video: rawvideo .*bgr24.*?, (\d+)x(\d+)`)

// Run decodes until ffmpeg ends or ctx is cancelled.
func (s *cameraSource) Run(ctx context.Context, emit func(*pipeline.Packet)) error {
	bin, err := s.services.FFmpeg()
	if err != nil {
		return err
	}
	c, err := s.camera()
	if err != nil {
		return err
	}
	redact := strings.NewReplacer(c.SourceURL(), redactedURL(c))
	cmd := exec.Command(bin, s.args(c)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	go func() { // ffmpeg never outlives the pipeline
		<-ctx.Done()
		_ = cmd.Process.Kill()
	}()

	sizes := make(chan [2]int, 1)
	var tailMu sync.Mutex
	var tail []string
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			line := redact.Replace(lines.Text())
			if m := outputSize.FindStringSubmatch(line); m != nil {
				w, _ := strconv.Atoi(m[1])
				h, _ := strconv.Atoi(m[2])
				select {
				case sizes <- [2]int{w, h}:
				default:
				}
			}
			tailMu.Lock()
			tail = append(tail, line)
			if len(tail) > 5 {
				tail = tail[1:]
			}
			tailMu.Unlock()
		}
	}()
	lastLines := func() string {
		tailMu.Lock()
		defer tailMu.Unlock()
		return strings.Join(tail, " | ")
	}

	var size [2]int
	select {
	case size = <-sizes:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("ffmpeg did not open %s within 30s: %s", redactedURL(c), lastLines())
	case <-ctx.Done():
		return ctx.Err()
	}
	frameBytes := size[0] * size[1] * 3
	reader := bufio.NewReaderSize(stdout, frameBytes)
	lifecycle := pipeline.Open
	for {
		buf := make([]byte, frameBytes)
		if _, err := io.ReadFull(reader, buf); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("source %s ended: %s", redactedURL(c), lastLines())
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
