package api

import (
	"errors"
	"net/http"
	"slices"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/camerainput"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/pipeline"
	"github.com/toposync/toposync-streaming/internal/streamwriter"
)

// pipelineView is a pipeline with its state, as GET /api/pipelines lists it.
type pipelineView struct {
	model.Pipeline
	Status pipeline.Status `json:"status"`
}

func (s *server) listPipelines(w http.ResponseWriter, _ *http.Request) {
	out := []pipelineView{}
	for _, p := range s.store.Current().Pipelines {
		st, _ := s.pipelines.Status(p.Name)
		out = append(out, pipelineView{Pipeline: p, Status: st})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getPipeline(w http.ResponseWriter, r *http.Request) {
	doc := s.store.Current()
	i := doc.FindPipeline(r.PathValue("name"))
	if i < 0 {
		s.writeError(w, r, errorf(http.StatusNotFound, "Pipeline not found"))
		return
	}
	st, _ := s.pipelines.Status(doc.Pipelines[i].Name)
	writeJSON(w, http.StatusOK, pipelineView{Pipeline: doc.Pipelines[i], Status: st})
}

func (s *server) pipelineStatus(w http.ResponseWriter, r *http.Request) {
	st, ok := s.pipelines.Status(r.PathValue("name"))
	if !ok {
		s.writeError(w, r, errorf(http.StatusNotFound, "Pipeline not found"))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// configServices lets operator factories check a draft configuration
// (that cameras exist, that inputs are allowed) without touching the
// runtime.
type configServices struct {
	c      *model.Config
	inputs camerainput.Policy
}

func (v configServices) CameraPolicy() camerainput.Policy { return v.inputs }

func (v configServices) Camera(id string) (model.Camera, bool) {
	if i := v.c.FindCamera(id); i >= 0 {
		return v.c.Cameras[i], true
	}
	return model.Camera{}, false
}

func (configServices) LocalFrames(camerahub.Local, string, camerahub.FrameOptions) (*camerahub.Frames, error) {
	return nil, errors.New("not running")
}

func (configServices) CameraFrames(camerahub.Source, string, camerahub.FrameOptions) (*camerahub.Frames, error) {
	return nil, errors.New("not running")
}

func (configServices) Writer(string, string, int, *arbiter.Forward) *streamwriter.Writer {
	return nil
}

// checkPipeline refuses, with 400 and the reason, a pipeline whose graph
// cannot run or whose host (named at hostLoc in the request) is unknown,
// and with 422 an on_demand pipeline that publishes nothing (nothing could
// ever wake it).
func (s *server) checkPipeline(c *model.Config, p model.Pipeline, hostLoc ...any) error {
	if err := s.checkHostIn(c, p.ProcessingServerID, hostLoc...); err != nil {
		return err
	}
	if err := pipeline.Validate(p.Graph, configServices{c, s.cameraInputs}); err != nil {
		return errorf(http.StatusBadRequest, "Invalid pipeline graph: %v", err)
	}
	if p.RunMode == model.RunOnDemand && len(pipeline.Publishes(p.Graph)) == 0 {
		return &model.ValidationError{Errors: []model.FieldError{{Loc: runModeLoc, Type: "value_error",
			Msg: "on_demand runs a pipeline while a transmission it publishes into is watched, and this graph has no stream.publish_video node: add one or use always"}}}
	}
	return nil
}

var runModeLoc = []any{"body", "run_mode"}

// decodePipeline reads a pipeline body. A structural problem is a 400 (as
// pipelines always answered); a wrong run_mode is a 422 at body.run_mode,
// like every setting, with every other problem listed beside it.
func decodePipeline(body []byte) (model.Pipeline, error) {
	p, err := model.DecodePipeline(body, "body")
	var ve *model.ValidationError
	if errors.As(err, &ve) {
		for _, fe := range ve.Errors {
			if slices.Equal(fe.Loc, runModeLoc) {
				return p, ve
			}
		}
		return p, errorf(http.StatusBadRequest, "Invalid pipeline: %s", ve.Error())
	}
	return p, err
}

func (s *server) createPipeline(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := decodePipeline(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		if c.FindPipeline(p.Name) >= 0 {
			return errorAt(http.StatusConflict, []any{"body", "name"}, "Pipeline already exists: %s", p.Name)
		}
		if err := s.checkPipeline(c, p, "body", "processing_server_id"); err != nil {
			return err
		}
		c.Pipelines = append(c.Pipelines, p)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc.Pipelines[doc.FindPipeline(p.Name)])
}

func (s *server) putPipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	body, err := readJSONBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := decodePipeline(body)
	if err == nil && p.Name != name {
		err = errorAt(http.StatusBadRequest, []any{"body", "name"}, "Pipeline name mismatch: the URL names '%s' but the body names '%s'", name, p.Name)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		i := c.FindPipeline(name)
		if i < 0 {
			return errorf(http.StatusNotFound, "Pipeline not found")
		}
		if err := s.checkPipeline(c, p, "body", "processing_server_id"); err != nil {
			return err
		}
		c.Pipelines[i] = p
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc.Pipelines[doc.FindPipeline(name)])
}

func (s *server) deletePipeline(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	_, err := s.store.UpdateConfig(func(c *model.Config) error {
		i := c.FindPipeline(name)
		if i < 0 {
			return errorf(http.StatusNotFound, "Pipeline not found")
		}
		c.Pipelines = append(c.Pipelines[:i], c.Pipelines[i+1:]...)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}
