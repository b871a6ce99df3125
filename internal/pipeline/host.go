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
// one stops. Other pipelines are not disturbed by an edit. An on_demand
// pipeline runs only while a transmission it publishes into is watched
// (Demand says which): otherwise it rests, its camera sessions and
// compute stopped. Its run goroutine owns the runners; Status reads the
// snapshot run publishes, so it never waits for a pipeline that is
// stopping.
type Host struct {
	Store    *store.Store
	ServerID string
	Services Services
	// Demand says which transmissions are watched; nil: none is, so
	// on_demand pipelines rest.
	Demand Demand
	Logger *slog.Logger

	updates     <-chan *store.Document
	unsubscribe func()
	watchedCh   <-chan map[string]bool
	unwatch     func()
	terminate   chan struct{}
	done        chan struct{}
	watched     map[string]bool    // transmissions watched now; owned by run
	runners     map[string]*runner // owned by run
	defs        map[string]string  // name -> JSON of the running (or resting) definition; owned by run
	failed      map[string]string  // name -> why it could not start; owned by run
	resting     map[string]bool    // on_demand pipelines nobody watches; owned by run
	published   atomic.Pointer[hostSnapshot]
}

// Demand is who knows which transmissions are watched: the bridge (a
// viewer on an output path, a prime, or the stop debounce after them), so
// a pipeline rests and wakes exactly when its encoder does.
type Demand interface {
	// SubscribeWatched delivers the set of watched transmission ids (the
	// current one at once; a delivered set is never changed).
	SubscribeWatched() (<-chan map[string]bool, func())
}

// hostSnapshot is what Status reads: copies of run's maps.
type hostSnapshot struct {
	runners map[string]*runner
	failed  map[string]string
	resting map[string]bool
}

// Initialize starts following the stored pipelines.
func (h *Host) Initialize() error {
	if h.Store == nil {
		return errors.New("pipeline host: no store")
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	h.runners, h.defs, h.failed, h.resting = map[string]*runner{}, map[string]string{}, map[string]string{}, map[string]bool{}
	h.publish()
	h.updates, h.unsubscribe = h.Store.Subscribe()
	h.unwatch = func() {}
	if h.Demand != nil {
		h.watchedCh, h.unwatch = h.Demand.SubscribeWatched()
		h.watched = <-h.watchedCh // delivered at once: pipelines start as they should
	}
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
	defer h.unwatch()
	h.apply(h.Store.Current())
	for {
		select {
		case doc := <-h.updates:
			h.apply(doc)
		case h.watched = <-h.watchedCh: // nil channel without Demand
			h.apply(h.Store.Current())
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
	h.published.Store(&hostSnapshot{runners: maps.Clone(h.runners), failed: maps.Clone(h.failed), resting: maps.Clone(h.resting)})
}

// stop stops a runner after Status stopped seeing it.
func (h *Host) stop(name string) {
	r := h.runners[name]
	delete(h.runners, name)
	h.publish()
	r.stop()
}

// definition is what, when it changes, restarts a pipeline: its own
// definition and the cameras its nodes read. Not its run mode: switching
// it leaves a watched pipeline running.
func definition(p model.Pipeline, cameras []model.Camera) string {
	p.RunMode = ""
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
	gone := func(name string) bool { _, ok := want[name]; return !ok }
	maps.DeleteFunc(h.failed, func(name, _ string) bool { return gone(name) })
	maps.DeleteFunc(h.defs, func(name, _ string) bool { return gone(name) })
	maps.DeleteFunc(h.resting, func(name string, _ bool) bool { return gone(name) })
	for name, p := range want {
		def := definition(p, cameras)
		if h.rests(p) {
			if h.runners[name] != nil {
				h.stop(name)
				h.Logger.Info("pipeline resting: nobody watches its transmissions", "pipeline", name, "transmissions", Publishes(p.Graph))
			}
			delete(h.failed, name)
			h.resting[name], h.defs[name] = true, def
			continue
		}
		if h.defs[name] == def && !h.resting[name] {
			continue
		}
		delete(h.resting, name)
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

// restingDetail is a resting pipeline's state_detail.
const restingDetail = "idle: no demand (on_demand: it starts when a transmission it publishes into is watched)"

// rests reports whether p is an on_demand pipeline none of whose
// transmissions is watched.
func (h *Host) rests(p model.Pipeline) bool {
	if p.RunMode != model.RunOnDemand {
		return false
	}
	for _, id := range Publishes(p.Graph) {
		if h.watched[id] {
			return false
		}
	}
	return true
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
	st := Status{Name: name, State: StateStopped, Nodes: []string{}}
	if msg, ok := snap.failed[name]; ok {
		st.LastError = &msg
	}
	if snap.resting[name] {
		detail := restingDetail
		st.State, st.StateDetail = StateResting, &detail
	}
	for _, n := range doc.Pipelines[i].Graph.Nodes {
		st.Nodes = append(st.Nodes, n.ID)
	}
	return st, true
}
