package pipeline

import (
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"sync/atomic"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

// Host runs the enabled pipelines of this server, following the stored
// definitions: a new or changed pipeline (re)starts, a removed or disabled
// one stops. Other pipelines are not disturbed by an edit. Its run
// goroutine owns the runners; Status reads the snapshot run publishes, so
// it never waits for a pipeline that is stopping.
type Host struct {
	Store    *store.Store
	ServerID string
	Services Services
	Logger   *slog.Logger

	updates     <-chan *store.Document
	unsubscribe func()
	terminate   chan struct{}
	done        chan struct{}
	runners     map[string]*runner // owned by run
	defs        map[string]string  // name -> JSON of the running definition; owned by run
	failed      map[string]string  // name -> why it could not start; owned by run
	published   atomic.Pointer[hostSnapshot]
}

// hostSnapshot is what Status reads: copies of run's maps.
type hostSnapshot struct {
	runners map[string]*runner
	failed  map[string]string
}

// Initialize starts following the stored pipelines.
func (h *Host) Initialize() error {
	if h.Store == nil {
		return errors.New("pipeline host: no store")
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.runners, h.defs, h.failed = map[string]*runner{}, map[string]string{}, map[string]string{}
	h.publish()
	h.updates, h.unsubscribe = h.Store.Subscribe()
	h.terminate, h.done = make(chan struct{}), make(chan struct{})
	go h.run()
	return nil
}

// Close stops every pipeline and waits for them.
func (h *Host) Close() {
	close(h.terminate)
	<-h.done
}

func (h *Host) run() {
	defer close(h.done)
	defer h.unsubscribe()
	h.apply(h.Store.Current())
	for {
		select {
		case doc := <-h.updates:
			h.apply(doc)
		case <-h.terminate:
			for name := range h.runners {
				h.stop(name)
			}
			return
		}
	}
}

// publish makes the current runners and failures visible to Status.
func (h *Host) publish() {
	h.published.Store(&hostSnapshot{runners: maps.Clone(h.runners), failed: maps.Clone(h.failed)})
}

// stop stops a runner after Status stopped seeing it.
func (h *Host) stop(name string) {
	r := h.runners[name]
	delete(h.runners, name)
	h.publish()
	r.stop()
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
	cameras := doc.Cameras
	want := map[string]model.Pipeline{}
	for _, p := range doc.Pipelines {
		if p.Enabled && model.HostedHere(p.ProcessingServerID, h.ServerID) {
			want[p.Name] = p
		}
	}
	for name := range h.runners {
		if _, ok := want[name]; !ok {
			h.stop(name)
			delete(h.defs, name)
			h.Logger.Info("pipeline stopped", "pipeline", name)
		}
	}
	for name := range h.failed {
		if _, ok := want[name]; !ok {
			delete(h.failed, name)
			delete(h.defs, name)
		}
	}
	for name, p := range want {
		def := definition(p, cameras)
		if h.defs[name] == def {
			continue
		}
		if h.runners[name] != nil {
			h.stop(name)
		}
		env := Env{Pipeline: name, Graph: p.Graph, Logger: h.Logger.With("pipeline", name), Services: h.Services}
		r, err := startRunner(p, env)
		h.defs[name] = def
		if err != nil {
			h.failed[name] = err.Error()
			h.Logger.Error("pipeline cannot start", "pipeline", name, "err", err)
			continue
		}
		delete(h.failed, name)
		h.runners[name] = r
		h.Logger.Info("pipeline started", "pipeline", p.String())
	}
	h.publish()
}

// Status reports a pipeline by name; ok is false for an unknown name.
func (h *Host) Status(name string) (Status, bool) {
	snap := h.published.Load()
	if r := snap.runners[name]; r != nil {
		return r.status(), true
	}
	doc := h.Store.Current()
	i := doc.FindPipeline(name)
	if i < 0 {
		return Status{}, false
	}
	st := Status{Name: name, Nodes: []string{}}
	if msg, ok := snap.failed[name]; ok {
		st.LastError = &msg
	}
	for _, n := range doc.Pipelines[i].Graph.Nodes {
		st.Nodes = append(st.Nodes, n.ID)
	}
	return st, true
}
