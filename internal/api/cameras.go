package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/model"
)

// CameraHub is what the cameras API uses of the camera hub
// (camerahub.Hub): the state of the RTSP cameras it pulls and of the
// local ones (files, the test scene) it reads, and the subscriptions
// pipelines make, so a camera test opens a camera exactly as they do.
type CameraHub interface {
	Status(src camerahub.Source) camerahub.Status
	LocalStatus(src camerahub.Local) camerahub.Status
	Frames(src camerahub.Source, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error)
	LocalFrames(src camerahub.Local, consumer string, opts camerahub.FrameOptions) (*camerahub.Frames, error)
}

// cameraAnswer is a camera as the API shows it: the stored fields (never
// the password, see model.Camera.MarshalJSON) and its live status.
type cameraAnswer struct {
	cam    model.Camera
	status cameraStatus
}

// cameraStatus is a camera's "status": the kind of input and the hub's
// state (for a file or the test scene: its ffmpegs, one per output size,
// as decoders; connected while one runs).
type cameraStatus struct {
	Input string `json:"input"` // "rtsp", "file" or "testsrc"
	*camerahub.Status
}

func (a cameraAnswer) MarshalJSON() ([]byte, error) {
	cam, err := json.Marshal(a.cam)
	if err != nil {
		return nil, err
	}
	status, err := json.Marshal(a.status)
	if err != nil {
		return nil, err
	}
	out := append(cam[:len(cam)-1], `,"status":`...) // cam is an object: drop its '}'
	return append(append(out, status...), '}'), nil
}

// answer is cam with its status.
func (s *server) answer(cam model.Camera) cameraAnswer {
	in, err := s.cameraInputs.Check(cam.URL)
	st := cameraStatus{Input: "rtsp"}
	switch {
	case err != nil:
		st.Input = "refused" // hand-edited settings: camera.source refuses it too
	case in.Kind == camerainput.TestScene:
		st.Input = "testsrc"
	case in.Kind == camerainput.File:
		st.Input = "file"
	}
	switch {
	case err != nil || s.cameras == nil:
	case in.Kind == camerainput.RTSP:
		hub := s.cameras.Status(camerahub.SourceOf(cam))
		st.Status = &hub
	default:
		hub := s.cameras.LocalStatus(camerahub.LocalOf(cam, in))
		st.Status = &hub
	}
	return cameraAnswer{cam, st}
}

func (s *server) listCameras(w http.ResponseWriter, _ *http.Request) {
	out := []cameraAnswer{}
	for _, c := range s.store.Current().Cameras {
		out = append(out, s.answer(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getCamera(w http.ResponseWriter, r *http.Request) {
	doc := s.store.Current()
	i := doc.FindCamera(r.PathValue("id"))
	if i < 0 {
		s.writeError(w, r, errorf(http.StatusNotFound, "Camera not found"))
		return
	}
	writeJSON(w, http.StatusOK, s.answer(doc.Cameras[i]))
}

// decodeCamera reads a camera body and refuses (422 at body.url) a URL
// that names an input cameras may not open. The read-only members of an
// answer (password_set, status) are ignored, so what was read can be
// sent back.
func (s *server) decodeCamera(body []byte) (model.Camera, error) {
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) == nil && members != nil {
		delete(members, "password_set")
		delete(members, "status")
		if stripped, err := json.Marshal(members); err == nil {
			body = stripped
		}
	}
	cam, err := model.DecodeCamera(body, "body")
	if err != nil {
		return cam, err
	}
	if _, err := s.cameraInputs.Check(cam.URL); err != nil {
		return cam, &model.ValidationError{Errors: []model.FieldError{{Loc: []any{"body", "url"}, Msg: err.Error(), Type: "value_error"}}}
	}
	return cam, nil
}

// createCamera adds a camera; its id defaults to the slug of its name.
func (s *server) createCamera(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cam, err := s.decodeCamera(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		if c.FindCamera(cam.ID) >= 0 {
			return &model.ConflictError{Msg: "Duplicate camera id: " + cam.ID, Loc: []any{"body", "id"}}
		}
		c.Cameras = append(c.Cameras, cam)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.answer(doc.Cameras[doc.FindCamera(cam.ID)]))
}

// putCamera replaces a camera. A body without "password" keeps the stored
// one (listings never show it); null or "" clears it.
func (s *server) putCamera(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, passwordSent, err := replacementBody(w, r, id, "Camera", func(bodyID string) bool { return bodyID == id })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cam, err := s.decodeCamera(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		i := c.FindCamera(id)
		if i < 0 {
			return errorf(http.StatusNotFound, "Camera not found")
		}
		if !passwordSent {
			cam.Password = c.Cameras[i].Password
		}
		c.Cameras[i] = cam
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.answer(doc.Cameras[doc.FindCamera(id)]))
}

// deleteCamera removes a camera no pipeline reads.
func (s *server) deleteCamera(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.store.UpdateConfig(func(c *model.Config) error {
		i := c.FindCamera(id)
		if i < 0 {
			return errorf(http.StatusNotFound, "Camera not found")
		}
		if users := pipelinesReading(c, id); len(users) > 0 {
			return errorf(http.StatusConflict, "Camera '%s' is used by pipelines %s: change or delete them first", id, strings.Join(users, ", "))
		}
		c.Cameras = append(c.Cameras[:i], c.Cameras[i+1:]...)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

// pipelinesReading lists the pipelines with a node reading camera id.
func pipelinesReading(c *model.Config, id string) []string {
	var out []string
	for _, p := range c.Pipelines {
		for _, n := range p.Graph.Nodes {
			var cfg struct {
				CameraID string `json:"camera_id"`
			}
			if json.Unmarshal(n.Config, &cfg) == nil && cfg.CameraID == id {
				out = append(out, fmt.Sprintf("'%s'", p.Name))
				break
			}
		}
	}
	return out
}
