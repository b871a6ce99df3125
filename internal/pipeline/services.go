package pipeline

import (
	"bytes"
	"errors"
	"io"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
	"github.com/toposync/toposync-streaming/internal/store"
	"github.com/toposync/toposync-streaming/internal/streamwriter"
)

// Services are what the host gives operators.
type Services interface {
	// Camera returns a stored camera by id.
	Camera(id string) (model.Camera, bool)
	// CameraPolicy says which camera inputs sources may open.
	CameraPolicy() camerainput.Policy
	// CameraFrames subscribes consumer to the decoded frames of an RTSP
	// camera through the service's camera hub, which holds one session per
	// camera and one decoder per camera and size.
	CameraFrames(src camerahub.Source, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error)
	// FFmpeg returns the ffmpeg binary, or why there is none.
	FFmpeg() (string, error)
	// FFmpegLogs is where per-run ffmpeg log files go (empty: none) and
	// ffmpeg's -loglevel.
	FFmpegLogs() (dir, level string)
	// Writer opens a frame writer into a transmission; forward, when set,
	// declares that the writer only forwards that camera.
	Writer(transmissionID, writerID string, priority int, forward *arbiter.Forward) *streamwriter.Writer
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// StoreServices are the Services of a running service: cameras from the
// store, ffmpeg from the environment, writers into the arbiter.
type StoreServices struct {
	Store   *store.Store
	Arbiter *arbiter.Arbiter
	Getenv  func(string) string
	LogDir  string // per-run ffmpeg log files
	// Inputs is what cameras may open (files from Inputs.FilesDir only).
	Inputs camerainput.Policy
	// Cameras pulls the RTSP cameras.
	Cameras *camerahub.Hub
}

// Camera returns a stored camera.
func (s StoreServices) Camera(id string) (model.Camera, bool) {
	doc := s.Store.Current()
	if i := doc.FindCamera(id); i >= 0 {
		return doc.Cameras[i], true
	}
	return model.Camera{}, false
}

// CameraPolicy is Inputs.
func (s StoreServices) CameraPolicy() camerainput.Policy { return s.Inputs }

// CameraFrames subscribes to the hub.
func (s StoreServices) CameraFrames(src camerahub.Source, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error) {
	if s.Cameras == nil {
		return nil, errors.New("no camera hub in this service")
	}
	return s.Cameras.Frames(src, consumer, opts)
}

// FFmpeg finds ffmpeg as publishers do.
func (s StoreServices) FFmpeg() (string, error) { return publisher.FindFFmpeg(s.Getenv) }

// FFmpegLogs are LogDir and the level publishers use.
func (s StoreServices) FFmpegLogs() (dir, level string) {
	return s.LogDir, publisher.LogLevel(s.Getenv)
}

// Writer opens a writer into the arbiter.
func (s StoreServices) Writer(transmissionID, writerID string, priority int, forward *arbiter.Forward) *streamwriter.Writer {
	w := streamwriter.Open(s.Arbiter, transmissionID, writerID, priority)
	w.DeclareForward(forward)
	return w
}
