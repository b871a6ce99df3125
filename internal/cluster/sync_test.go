package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// initialized starts s; the test's cleanup closes it.
func initialized(t *testing.T, s *Syncer) *Syncer {
	t.Helper()
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// fakeCore stands in for the core's GET /api/streams/distributed/settings/{id}:
// it answers whatever body and status the test sets and records the requests.
type fakeCore struct {
	mu       sync.Mutex
	status   int
	body     string
	paths    []string
	auth     []string
	requests int
}

func (f *fakeCore) set(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func (f *fakeCore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.paths = append(f.paths, r.URL.EscapedPath())
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	_, _ = w.Write([]byte(f.body))
}

func (f *fakeCore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// coreSettings is what the core serves for "edge-1": one transmission and
// an enabled engine with other ports; its runtime section differs from the
// local one and must not be copied.
const coreSettings = `{
  "transmissions": [{"id": "t1", "name": "Gate", "path": "gate", "host_server_id": "edge-1",
    "created_at": "2026-05-03T19:25:57.123456Z", "updated_at": "2026-05-03T19:25:57.123456Z",
    "outputs": [{"id": "main", "protocol": "rtsp"}]}],
  "engine": {"enabled": true, "preferred_ports": {"rtsp": 18554}},
  "runtime": {"prime_seconds": 5}
}`

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestSyncOnceStoresCoreSettingsOnce(t *testing.T) {
	core := &fakeCore{status: 200, body: coreSettings}
	srv := httptest.NewServer(core)
	defer srv.Close()
	st := newStore(t)
	if _, err := st.Update(func(s *model.Settings) error { s.Runtime.PrimeSeconds = 42; return nil }); err != nil {
		t.Fatal(err)
	}
	s := initialized(t, &Syncer{Store: st, CoreURL: srv.URL + "/", ServerID: "edge-1", BearerToken: "tok", Username: "u", Password: "p"})

	changed, err := s.SyncOnce(context.Background())
	if err != nil || !changed {
		t.Fatalf("first sync: changed=%v err=%v", changed, err)
	}
	doc := st.Current()
	if len(doc.Streams.Transmissions) != 1 || doc.Streams.Transmissions[0].Path != "gate" ||
		!doc.Streams.Engine.Enabled || doc.Streams.Engine.PreferredPorts.RTSP != 18554 {
		t.Errorf("stored %+v", doc.Streams)
	}
	if doc.Streams.Runtime.PrimeSeconds != 42 {
		t.Errorf("the local runtime section was replaced: %+v", doc.Streams.Runtime)
	}
	if core.paths[0] != "/api/streams/distributed/settings/edge-1" || core.auth[0] != "Bearer tok" {
		t.Errorf("request %s auth %q", core.paths[0], core.auth[0])
	}

	// Nothing changed on the core: no new revision, however often it runs.
	rev := doc.Revision
	for range 3 {
		if changed, err := s.SyncOnce(context.Background()); changed || err != nil {
			t.Fatalf("repeat sync: changed=%v err=%v", changed, err)
		}
	}
	if st.Current().Revision != rev {
		t.Errorf("revision moved from %d to %d without a change", rev, st.Current().Revision)
	}
}

func TestSyncAuthHeaders(t *testing.T) {
	core := &fakeCore{status: 200, body: coreSettings}
	srv := httptest.NewServer(core)
	defer srv.Close()
	for _, c := range []struct {
		s    Syncer
		want string
	}{
		{Syncer{Username: "sync", Password: "s3cret"}, "Basic c3luYzpzM2NyZXQ="},
		{Syncer{Password: "s3cret"}, "Basic OnMzY3JldA=="},
		{Syncer{}, ""},
	} {
		c.s.Store, c.s.CoreURL, c.s.ServerID = newStore(t), srv.URL, "edge 1/x"
		if _, err := initialized(t, &c.s).SyncOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := core.auth[len(core.auth)-1]; got != c.want {
			t.Errorf("auth %q, want %q", got, c.want)
		}
	}
	if p := core.paths[len(core.paths)-1]; p != "/api/streams/distributed/settings/edge%201%2Fx" {
		t.Errorf("id not escaped: %s", p)
	}
}

func TestSyncFailuresChangeNothing(t *testing.T) {
	core := &fakeCore{}
	srv := httptest.NewServer(core)
	st := newStore(t)
	rev := st.Current().Revision
	s := initialized(t, &Syncer{Store: st, CoreURL: srv.URL, ServerID: "edge-1", Username: "sync", Password: "s3cret", Timeout: 200 * time.Millisecond})
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{401, `{"detail":"Authentication required"}`, "core answered HTTP 401"},
		{200, `{"transmissions": [`, "invalid"},
		{200, `{"transmissions": [], "engine": {"kind": "vlc"}}`, "engine.kind"},
		{200, `{"transmissions": [], "cameras": []}`, "Extra inputs"},
	} {
		core.set(c.status, c.body)
		changed, err := s.SyncOnce(context.Background())
		if changed || err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%d %s: changed=%v err=%v, want %q", c.status, c.body, changed, err, c.want)
		}
	}
	srv.Close()
	if _, err := s.SyncOnce(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "connection failed") {
		t.Errorf("core down: %v", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	s = initialized(t, &Syncer{Store: st, CoreURL: slow.URL, ServerID: "edge-1", Timeout: 200 * time.Millisecond})
	start := time.Now()
	if _, err := s.SyncOnce(context.Background()); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("timeout: %v after %v", err, time.Since(start))
	}
	if st.Current().Revision != rev {
		t.Error("a failed sync changed the settings")
	}
}

func TestLoopFollowsTheCoreUntilClosed(t *testing.T) {
	core := &fakeCore{status: 200, body: coreSettings}
	srv := httptest.NewServer(core)
	defer srv.Close()
	st := newStore(t)
	ticks := make(chan time.Time)
	var waits []time.Duration
	var logs bytes.Buffer
	var logMu sync.Mutex
	s := &Syncer{
		Store: st, CoreURL: srv.URL, ServerID: "edge-1", Interval: 3 * time.Second, Password: "s3cret",
		After:  func(d time.Duration) <-chan time.Time { waits = append(waits, d); return ticks },
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{&logs, &logMu}, nil)),
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}

	tick := func() { ticks <- time.Now() }
	tick() // first pull: stores the core's settings
	tick() // the loop waits again only after that pull finished
	rev := st.Current().Revision
	if len(st.Current().Streams.Transmissions) != 1 {
		t.Fatalf("after a tick: %+v", st.Current().Streams)
	}
	tick()
	tick()
	if st.Current().Revision != rev {
		t.Error("unchanged settings made a new revision")
	}

	// The core changes: the next pull follows; a failing core is skipped.
	var changed map[string]any
	_ = json.Unmarshal([]byte(coreSettings), &changed)
	changed["transmissions"] = []any{}
	raw, _ := json.Marshal(changed)
	core.set(200, string(raw))
	tick()
	tick() // the pull of the changed settings has finished
	core.set(500, "boom")
	tick()
	tick()
	if got := st.Current(); len(got.Streams.Transmissions) != 0 || got.Revision != rev+1 {
		t.Errorf("after the core changed: revision %d (want %d), %d transmissions", got.Revision, rev+1, len(got.Streams.Transmissions))
	}
	s.Close() // returns once the loop has ended
	if waits[0] != 3*time.Second {
		t.Errorf("waited %v, want the interval", waits[0])
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "settings sync from core failed") || !strings.Contains(logs.String(), "HTTP 500") || strings.Contains(logs.String(), "s3cret") {
		t.Errorf("log:\n%s", logs.String())
	}
	if n := core.count(); n < 6 {
		t.Errorf("%d pulls", n)
	}
}

func TestCloseStopsAPullInFlight(t *testing.T) {
	asked := make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		<-r.Context().Done()
	}))
	defer slow.Close()
	now := make(chan time.Time, 1)
	now <- time.Now()
	s := &Syncer{Store: newStore(t), CoreURL: slow.URL, ServerID: "edge-1", Timeout: time.Minute,
		After: func(time.Duration) <-chan time.Time { return now }}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	<-asked
	began := time.Now()
	s.Close()
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Close waited %v for the pull", took)
	}
}

func TestInitializeRefusesAnIncompleteConfig(t *testing.T) {
	for _, s := range []*Syncer{{CoreURL: "http://core", ServerID: "edge-1"}, {Store: newStore(t), ServerID: "edge-1"}, {Store: newStore(t), CoreURL: "http://core"}} {
		if err := s.Initialize(); err == nil {
			s.Close()
			t.Errorf("%+v was accepted", s)
		}
	}
}

func TestDefaults(t *testing.T) {
	s := initialized(t, &Syncer{Store: newStore(t), Interval: time.Millisecond, CoreURL: "http://user:pw@core:8100/", ServerID: "edge-1"})
	if s.Interval != time.Second || s.Timeout != 5*time.Second {
		t.Errorf("interval %v timeout %v", s.Interval, s.Timeout)
	}
	if w := s.Where(); w != "http://core:8100/api/streams/distributed/settings/edge-1" {
		t.Errorf("Where = %s", w)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
