package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/broadcast"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
	"github.com/toposync/toposync-streaming/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Test sources: test.source runs until cancelled, then waits for
// holdSource to be closed (a source slow to stop); test.supervised
// restarts what it runs itself and reports so.
var (
	runningSources atomic.Int32
	sourceRuns     atomic.Int32  // test.source runs started
	holdSource     chan struct{} // made by the test that holds
)

type testSource struct{ hold bool }

func (s testSource) Run(ctx context.Context, _ func(*Packet)) error {
	runningSources.Add(1)
	sourceRuns.Add(1)
	defer runningSources.Add(-1)
	<-ctx.Done()
	if s.hold {
		<-holdSource
	}
	return ctx.Err()
}

type supervisedSource struct{ testSource }

func (supervisedSource) SourceStatus() (string, int) { return "exit status 1: camera gone", 3 }

// failing makes test.failing fail at once; else it emits and runs.
var failing atomic.Bool

type failingSource struct{}

func (failingSource) Run(ctx context.Context, emit func(*Packet)) error {
	if failing.Load() {
		return errors.New("ffmpeg not found")
	}
	emit(&Packet{Time: time.Now()})
	<-ctx.Done()
	return ctx.Err()
}

func init() {
	Register(Info{Type: "test.failing", Outputs: 1, Factory: func(json.RawMessage, Env) (any, error) { return failingSource{}, nil }})
	Register(Info{Type: "test.source", Outputs: 1, Factory: func(raw json.RawMessage, _ Env) (any, error) {
		var c struct {
			Hold bool `json:"hold"`
		}
		err := DecodeConfig(raw, &c)
		return testSource{c.Hold}, err
	}})
	Register(Info{Type: "test.publish", Inputs: 1, Factory: func(json.RawMessage, Env) (any, error) { return discard{}, nil },
		Publishes: func(raw json.RawMessage) string {
			var c struct {
				TransmissionID string `json:"transmission_id"`
			}
			_ = json.Unmarshal(raw, &c)
			return c.TransmissionID
		}})
	Register(Info{Type: "test.supervised", Outputs: 1, Factory: func(json.RawMessage, Env) (any, error) {
		return supervisedSource{}, nil
	}})
}

func testPipeline(name, typ, config string) model.Pipeline {
	return model.Pipeline{Name: name, Enabled: true, ProcessingServerID: model.LocalHost, Graph: model.Graph{
		SchemaVersion: 1, Nodes: []model.Node{{ID: "src", Type: typ, Config: json.RawMessage(config)}},
	}}
}

// discard is a sink.
type discard struct{}

func (discard) Process(context.Context, *Packet, func(*Packet)) {}

// startHost runs a Host over a store holding pipelines.
func startHost(t *testing.T, pipelines ...model.Pipeline) (*Host, *store.Store) {
	t.Helper()
	return startHostWith(t, nil, pipelines...)
}

// startHostWith is startHost with a demand source.
func startHostWith(t *testing.T, demand Demand, pipelines ...model.Pipeline) (*Host, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.UpdateConfig(func(c *model.Config) error { c.Pipelines = pipelines; return nil }); err != nil {
		t.Fatal(err)
	}
	h := &Host{Store: st, ServerID: model.LocalHost, Demand: demand}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	return h, st
}

func TestHostCloseStopsEveryRunner(t *testing.T) {
	h, _ := startHost(t, testPipeline("a", "test.source", `{}`), testPipeline("b", "test.source", `{}`))
	testutil.Eventually(t, 2*time.Second, "both pipelines", func() bool { return runningSources.Load() == 2 })
	if st, ok := h.Status("a"); !ok || !st.Running {
		t.Errorf("status of a = %+v, %v", st, ok)
	}
	h.Close()
	if n := runningSources.Load(); n != 0 {
		t.Errorf("%d sources still running after Close", n)
	}
}

func TestStatusDoesNotWaitForAStoppingPipeline(t *testing.T) {
	holdSource = make(chan struct{})
	h, st := startHost(t, testPipeline("slow", "test.source", `{"hold": true}`))
	defer h.Close()
	testutil.Eventually(t, 2*time.Second, "the pipeline", func() bool { return runningSources.Load() == 1 })
	if _, err := st.UpdateConfig(func(c *model.Config) error { c.Pipelines[0].Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	// The host is now stopping the pipeline, whose source does not return.
	testutil.Eventually(t, 2*time.Second, "Status to answer while the pipeline stops", func() bool {
		answered := make(chan Status, 1)
		go func() {
			s, _ := h.Status("slow")
			answered <- s
		}()
		select {
		case s := <-answered:
			return !s.Running
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	if runningSources.Load() != 1 {
		t.Error("the source ended before it was released")
	}
	close(holdSource)
	testutil.Eventually(t, 2*time.Second, "the source to end", func() bool { return runningSources.Load() == 0 })
}

func TestStatusReportsASupervisedSource(t *testing.T) {
	h, _ := startHost(t, testPipeline("cam", "test.supervised", `{}`))
	defer h.Close()
	testutil.Eventually(t, 2*time.Second, "the pipeline", func() bool { return runningSources.Load() == 1 })
	st, ok := h.Status("cam")
	if !ok || st.LastError == nil || *st.LastError != "node src: exit status 1: camera gone" || st.Restarts != 3 || st.Running {
		t.Errorf("status = %+v (last error %v), want not running with the source's problem", st, st.LastError)
	}
}

// Issue 13 item 9: a pipeline whose source cannot run (ffmpeg missing)
// reports running: false beside its error, and running again once the
// source emits.
func TestAFailingSourceIsNotRunning(t *testing.T) {
	failing.Store(true)
	h, _ := startHost(t, testPipeline("cam", "test.failing", `{}`))
	defer h.Close()
	testutil.Eventually(t, 3*time.Second, "the error", func() bool {
		st, _ := h.Status("cam")
		return st.LastError != nil
	})
	if st, _ := h.Status("cam"); st.Running || *st.LastError != "node src: ffmpeg not found" {
		t.Errorf("status = %+v (last error %v), want not running", st, *st.LastError)
	}
	failing.Store(false) // the next run emits
	testutil.Eventually(t, 5*time.Second, "running again", func() bool {
		st, _ := h.Status("cam")
		return st.Running
	})
}

// watchedSet is a Demand the test sets by hand.
type watchedSet struct {
	broadcast.Latest[map[string]bool]
}

func (w *watchedSet) SubscribeWatched() (<-chan map[string]bool, func()) { return w.Subscribe(true) }

// publishing is a pipeline test.source -> test.publish into transmission.
func publishing(name string, mode model.RunMode, transmission string) model.Pipeline {
	p := testPipeline(name, "test.source", `{}`)
	p.RunMode = mode
	p.Graph.Nodes = append(p.Graph.Nodes, model.Node{ID: "stream", Type: "test.publish", Config: json.RawMessage(`{"transmission_id":"` + transmission + `"}`)})
	p.Graph.Edges = []model.Edge{{From: model.Endpoint{Node: "src"}, To: model.Endpoint{Node: "stream"}, MaxSize: 1}}
	return p
}

// Issue 14 item 4: an on_demand pipeline runs only while a transmission it
// publishes into is watched, and says it rests (not failed) otherwise; an
// always pipeline runs regardless; a new watched set that still holds the
// pipeline's transmission (another transmission's viewer came or went) or
// a switch of run_mode while watched does not restart it.
func TestOnDemandPipelineFollowsWatchedTransmissions(t *testing.T) {
	sourceRuns.Store(0)
	demand := &watchedSet{}
	h, st := startHostWith(t, demand, publishing("lazy", model.RunOnDemand, "t1"), publishing("busy", model.RunAlways, "t2"))
	defer h.Close()
	state := func(name string) Status { s, _ := h.Status(name); return s }
	testutil.Eventually(t, 2*time.Second, "the always pipeline running", func() bool { return state("busy").Running && runningSources.Load() == 1 })
	if s := state("lazy"); s.Running || s.State != StateResting || s.StateDetail == nil || s.LastError != nil {
		t.Fatalf("unwatched on_demand pipeline: %+v, want resting without error", s)
	}

	demand.Publish(map[string]bool{"t1": true})
	testutil.Eventually(t, 2*time.Second, "the on_demand pipeline woken", func() bool {
		return state("lazy").State == StateRunning && runningSources.Load() == 2
	})
	demand.Publish(map[string]bool{"t1": true, "t3": true})
	if _, err := st.UpdateConfig(func(c *model.Config) error { c.Pipelines[0].RunMode = model.RunAlways; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateConfig(func(c *model.Config) error { c.Pipelines[0].RunMode = model.RunOnDemand; return nil }); err != nil {
		t.Fatal(err)
	}
	demand.Publish(map[string]bool{"t1": true})

	demand.Publish(map[string]bool{"t2": true}) // only busy's transmission is watched
	testutil.Eventually(t, 2*time.Second, "the on_demand pipeline resting again", func() bool {
		return state("lazy").State == StateResting && runningSources.Load() == 1
	})
	if n := sourceRuns.Load(); n != 2 {
		t.Errorf("%d source runs, want 2 (busy once, lazy once): a pipeline restarted", n)
	}
	if s := state("busy"); !s.Running || s.State != StateRunning {
		t.Errorf("always pipeline: %+v", s)
	}
}

// Without a demand source nothing is watched: on_demand pipelines rest.
func TestOnDemandWithoutDemandRests(t *testing.T) {
	h, _ := startHost(t, publishing("lazy", model.RunOnDemand, "t1"))
	defer h.Close()
	testutil.Eventually(t, 2*time.Second, "resting", func() bool { s, _ := h.Status("lazy"); return s.State == StateResting })
	if n := runningSources.Load(); n != 0 {
		t.Errorf("%d sources run", n)
	}
}
