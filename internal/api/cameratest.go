package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// Bounds of POST /api/cameras/test.
const (
	// DefaultCameraTestTimeout bounds the wait for a test's one frame.
	DefaultCameraTestTimeout = 8 * time.Second
	// cameraTestsAtOnce bounds the tests in progress: each may start an
	// RTSP session and an ffmpeg.
	cameraTestsAtOnce = 2
	// failurePoll is how often a test looks for a failed attempt while it
	// waits for its frame.
	failurePoll = 100 * time.Millisecond
)

// testCamera is POST /api/cameras/test: a camera draft (a create body; with
// the id of a stored camera and no "password" member, the stored password)
// opened through the camera hub as a pipeline opens it, ONE frame decoded,
// answered as a JPEG (scaled to ?width=). The probe shares a session or
// ffmpeg already reading the camera, and leaves nothing running or
// remembered when it ends (camerahub.FrameOptions.Probe).
func (s *server) testCamera(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	err := checkQuery(q, "a camera test", "width")
	var width int
	if err == nil {
		width, err = parseWidth(q)
	}
	var body []byte
	if err == nil {
		body, err = readJSONBody(w, r)
	}
	var cam model.Camera
	if err == nil {
		cam, err = s.cameraDraft(body)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	select {
	case s.cameraTests <- struct{}{}:
		defer func() { <-s.cameraTests }()
	default:
		s.writeError(w, r, &httpError{status: http.StatusServiceUnavailable, retryAfter: "2",
			detail: fmt.Sprintf("%d camera tests are running already: try again when they are done", cameraTestsAtOnce)})
		return
	}
	var picture []byte
	fr, err := s.grabFrame(r.Context(), cam)
	if err == nil {
		picture, err = s.encodeScaled(r.Context(), fr, fr.Width, fr.Height, width)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(picture)))
	_, _ = w.Write(picture)
}

// cameraDraft decodes a test's body as a create body (the same checks,
// the URL policy included); a draft naming a stored camera without a
// "password" member takes the stored password, as PUT does.
func (s *server) cameraDraft(body []byte) (model.Camera, error) {
	cam, err := s.decodeCamera(body)
	if err != nil {
		return cam, err
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) == nil {
		if _, sent := members["password"]; !sent {
			if doc := s.store.Current(); doc.FindCamera(cam.ID) >= 0 {
				cam.Password = doc.Cameras[doc.FindCamera(cam.ID)].Password
			}
		}
	}
	return cam, nil
}

// grabFrame opens cam as a probe and waits for its first frame, failing
// early (502) with the camera's own reason, or after the test timeout (504).
func (s *server) grabFrame(ctx context.Context, cam model.Camera) (*frame.Frame, error) {
	if s.cameras == nil {
		return nil, errorf(http.StatusServiceUnavailable, "Camera tests are not available: this server runs no camera hub")
	}
	in, err := s.cameraInputs.Check(cam.URL)
	if err != nil { // decodeCamera checked it; the files directory may have changed since
		return nil, errorf(http.StatusUnprocessableEntity, "Camera '%s' is refused: %v", cameraName(cam), err)
	}
	opts := camerahub.FrameOptions{Probe: true}
	var frames *camerahub.Frames
	if in.Kind == camerainput.RTSP {
		frames, err = s.cameras.Frames(camerahub.SourceOf(cam), "connection test", opts)
	} else {
		frames, err = s.cameras.LocalFrames(camerahub.LocalOf(cam, in), "connection test", opts)
	}
	if err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "Camera '%s' cannot be tested here: %v", cameraName(cam), err)
	}
	defer frames.Close() // ends the session or ffmpeg the test started, before the answer
	ctx, cancel := context.WithTimeout(ctx, s.cameraTestTimeout)
	defer cancel()
	for {
		wait, stop := context.WithTimeout(ctx, failurePoll)
		fr, err := frames.Next(wait)
		stop()
		switch {
		case err == nil:
			return fr.Frame, nil
		case !errors.Is(err, context.DeadlineExceeded):
			return nil, errorf(http.StatusServiceUnavailable, "The camera test of '%s' was cut off: %v", cameraName(cam), err)
		}
		if failure := frames.Failure(); failure != "" {
			return nil, errorf(http.StatusBadGateway, "Camera '%s' could not be read: %s", cameraName(cam), failure)
		}
		if ctx.Err() != nil {
			return nil, errorf(http.StatusGatewayTimeout, "Camera '%s' sent no picture within %v: check that it is on, that its URL and port are right, and that it streams H.264", cameraName(cam), s.cameraTestTimeout)
		}
	}
}

// name is how messages name a camera: its name, else its id.
func cameraName(c model.Camera) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}
