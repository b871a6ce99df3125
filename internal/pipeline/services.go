package pipeline

import (
	"bytes"
	"errors"
	"io"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/model"
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
	// LocalFrames subscribes consumer to the frames of a file camera or
	// the test scene through the camera hub, which runs one ffmpeg per
	// camera and size.
	LocalFrames(src camerahub.Local, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error)
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

// LocalFrames subscribes to the hub.
func (s StoreServices) LocalFrames(src camerahub.Local, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error) {
	if s.Cameras == nil {
		return nil, errors.New("no camera hub in this service")
	}
	return s.Cameras.LocalFrames(src, consumer, opts)
}

// Writer opens a writer into the arbiter.
func (s StoreServices) Writer(transmissionID, writerID string, priority int, forward *arbiter.Forward) *streamwriter.Writer {
	w := streamwriter.Open(s.Arbiter, transmissionID, writerID, priority)
	w.DeclareForward(forward)
	return w
}
