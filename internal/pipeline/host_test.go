package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

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
	holdSource     chan struct{} // made by the test that holds
)

type testSource struct{ hold bool }

func (s testSource) Run(ctx context.Context, _ func(*Packet)) error {
	runningSources.Add(1)
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
	Register(Info{Type: "test.supervised", Outputs: 1, Factory: func(json.RawMessage, Env) (any, error) {
		return supervisedSource{}, nil
	}})
}

func testPipeline(name, typ, config string) model.Pipeline {
	return model.Pipeline{Name: name, Enabled: true, ProcessingServerID: model.LocalHost, Graph: model.Graph{
		SchemaVersion: 1, Nodes: []model.Node{{ID: "src", Type: typ, Config: json.RawMessage(config)}},
	}}
}

// startHost runs a Host over a store holding pipelines.
func startHost(t *testing.T, pipelines ...model.Pipeline) (*Host, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.UpdateConfig(func(c *model.Config) error { c.Pipelines = pipelines; return nil }); err != nil {
		t.Fatal(err)
	}
	h := &Host{Store: st, ServerID: model.LocalHost}
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
