package pipeline

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

// Host runs the enabled pipelines of this server, following the stored
// definitions: a new or changed pipeline (re)starts, a removed or disabled
// one stops. Other pipelines are not disturbed by an edit.
type Host struct {
	store    *store.Store
	serverID string
	services Services
	log      *slog.Logger

	mu      sync.Mutex
	runners map[string]*runner
	defs    map[string]string // name -> JSON of the running definition
	failed  map[string]string // name -> why it could not start
}

// NewHost returns a host; Run makes it work.
func NewHost(st *store.Store, serverID string, services Services, log *slog.Logger) *Host {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Host{store: st, serverID: serverID, services: services, log: log,
		runners: map[string]*runner{}, defs: map[string]string{}, failed: map[string]string{}}
}

// Run follows the stored pipelines until ctx ends, then stops them all.
func (h *Host) Run(ctx context.Context) {
	updates, cancel := h.store.Subscribe()
	defer cancel()
	h.apply(h.store.Current())
	for {
		select {
		case doc := <-updates:
			h.apply(doc)
		case <-ctx.Done():
			h.mu.Lock()
			defer h.mu.Unlock()
			for name, r := range h.runners {
				r.stop()
				delete(h.runners, name)
			}
			return
		}
	}
}

// definition is what, when it changes, restarts a pipeline: its own
// definition and the cameras its nodes read.
func definition(p model.Pipeline, cameras []model.Camera) string {
	used := map[string]bool{}
	for _, n := range p.Graph.Nodes {
		var c struct {
			CameraID string `json:"camera_id"`
		}
		if json.Unmarshal(n.Config, &c) == nil && c.CameraID != "" {
			used[c.CameraID] = true
		}
	}
	var cams []model.Camera
	for _, c := range cameras {
		if used[c.ID] {
			cams = append(cams, c)
		}
	}
	raw, _ := json.Marshal(struct {
		P model.Pipeline
		C []model.Camera
		S []string // camera secrets are not in Camera's JSON
	}{p, cams, secrets(cams)})
	return string(raw)
}

func secrets(cams []model.Camera) []string {
	var out []string
	for _, c := range cams {
		out = append(out, c.SourceURL())
	}
	return out
}

func (h *Host) apply(doc *store.Document) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cameras := doc.Cameras
	want := map[string]model.Pipeline{}
	for _, p := range doc.Pipelines {
		if p.Enabled && model.HostedHere(p.ProcessingServerID, h.serverID) {
			want[p.Name] = p
		}
	}
	for name, r := range h.runners {
		if _, ok := want[name]; !ok {
			h.log.Info("pipeline stopped", "pipeline", name)
			r.stop()
			delete(h.runners, name)
			delete(h.defs, name)
		}
	}
	for name := range h.failed {
		if _, ok := want[name]; !ok {
			delete(h.failed, name)
		}
	}
	for name, p := range want {
		def := definition(p, cameras)
		if h.defs[name] == def {
			continue
		}
		if r := h.runners[name]; r != nil {
			r.stop()
			delete(h.runners, name)
		}
		env := Env{Pipeline: name, Graph: p.Graph, Logger: h.log.With("pipeline", name), Services: h.services}
		r, err := startRunner(p, env)
		h.defs[name] = def
		if err != nil {
			h.failed[name] = err.Error()
			h.log.Error("pipeline cannot start", "pipeline", name, "err", err)
			continue
		}
		delete(h.failed, name)
		h.runners[name] = r
		h.log.Info("pipeline started", "pipeline", p.String())
	}
}

// Status reports a pipeline by name; ok is false for an unknown name.
func (h *Host) Status(name string) (Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.runners[name]; r != nil {
		return r.status(), true
	}
	i := h.store.Current().FindPipeline(name)
	if i < 0 {
		return Status{}, false
	}
	st := Status{Name: name, Nodes: []string{}}
	if msg, ok := h.failed[name]; ok {
		st.LastError = &msg
	}
	for _, n := range h.store.Current().Pipelines[i].Graph.Nodes {
		st.Nodes = append(st.Nodes, n.ID)
	}
	return st, true
}
