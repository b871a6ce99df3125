package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/engine/embedded"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

type fixture struct {
	t       *testing.T
	store   *store.Store
	manager *engine.Manager
	ports   model.Ports
}

// newFixture runs a manager with the real embedded engine on free ports.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := testutil.FreePorts(t, 4)
	// Every port is a free one, the RTP pair too: a preferred port another
	// test holds would be remapped with a warning.
	ports := model.Ports{RTSP: p[0], HLS: p[1], WebRTC: p[2], API: p[3], RTP: testutil.FreeRTPPort(t)}
	if _, err := st.Update(func(s *model.Settings) error {
		s.Engine.PreferredPorts = ports
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m := &engine.Manager{Store: st, Kinds: map[string]engine.Kind{model.EngineEmbedded: embedded.Kind{Logger: nil}}, ServerID: "local", RuntimeDir: filepath.Join(dir, "runtime", "streaming")}
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		st.Close()
	})
	return &fixture{t: t, store: st, manager: m, ports: ports}
}

func (f *fixture) update(fn func(*model.Settings) error) { testutil.Update(f.t, f.store, fn) }

func (f *fixture) addTransmission(body string) model.Transmission {
	return testutil.AddTransmission(f.t, f.store, body)
}

// publishURL is the path's publish URL in the manager's state.
func (f *fixture) publishURL(path string) string {
	f.t.Helper()
	p, ok := f.manager.State().Path(path)
	if !ok || p.PublishURL == "" {
		f.t.Fatalf("no publish URL for %q in the engine state", path)
	}
	return p.PublishURL
}

func TestStartStopPersistAndReport(t *testing.T) {
	f := newFixture(t)
	st := f.manager.Status("127.0.0.1")
	if st.Running || st.Kind != "embedded" || !slices.Equal(st.Warnings, []string{"Engine is disabled in settings."}) {
		t.Fatalf("initial status = %+v", st)
	}
	if err := f.manager.Start(); err != nil {
		t.Fatal(err)
	}
	if !f.store.Current().Streams.Engine.Enabled {
		t.Error("start did not persist enabled=true")
	}
	st = f.manager.Status("127.0.0.1")
	if !st.Running || st.Ports.Ports != f.ports || st.Ports.RTCP != f.ports.RTP+1 || len(st.Warnings) != 0 || st.PID == nil || st.UptimeSeconds == nil || st.BindHost != "127.0.0.1" {
		t.Fatalf("running status = %+v", st)
	}
	if want := fmt.Sprintf("rtsp://127.0.0.1:%d/test", f.ports.RTSP); st.URLs.RTSP != want {
		t.Errorf("test URL = %s, want %s", st.URLs.RTSP, want)
	}
	if err := f.manager.Stop(); err != nil {
		t.Fatal(err)
	}
	if f.store.Current().Streams.Engine.Enabled || f.manager.Status("").Running {
		t.Error("stop did not persist enabled=false or did not stop")
	}
	if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(f.ports.RTSP)); err == nil {
		conn.Close()
		t.Error("RTSP port still open after stop")
	}
}

func TestPortRemapWithoutDrift(t *testing.T) {
	f := newFixture(t)
	busy, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(f.ports.RTSP))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.manager.Start(); err != nil {
		t.Fatal(err)
	}
	st := f.manager.Status("127.0.0.1")
	remapped := st.Ports.RTSP
	want := fmt.Sprintf("RTSP port %d unavailable; using %d.", f.ports.RTSP, remapped)
	if remapped == f.ports.RTSP || !slices.Contains(st.Warnings, want) {
		t.Fatalf("status %+v lacks %q", st, want)
	}
	for i := range 3 {
		if err := f.manager.Restart(); err != nil {
			t.Fatal(err)
		}
		if got := f.manager.Status("").Ports; got.RTSP != remapped || got.HLS != f.ports.HLS {
			t.Fatalf("restart %d moved ports to %+v", i, got)
		}
	}
	// The preferred port is free again, but a restart keeps what viewers use.
	busy.Close()
	if err := f.manager.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := f.manager.Status("").Ports.RTSP; got != remapped {
		t.Errorf("restart moved RTSP from %d to %d", remapped, got)
	}
	if n := f.manager.Status("").RestartCount; n != 4 {
		t.Errorf("restart_count = %d, want 4", n)
	}
	// A new preference is honoured.
	next := testutil.FreePorts(t, 1)[0]
	f.update(func(s *model.Settings) error {
		s.Engine.PreferredPorts.RTSP = next
		return nil
	})
	testutil.Eventually(t, 5*time.Second, "engine on the new preferred port", func() bool {
		st := f.manager.Status("")
		return st.Running && st.Ports.RTSP == next
	})
}

// The RTP/RTCP pair of RTSP over UDP is resolved like the other ports: a
// taken preferred pair moves whole to the next free even pair with a
// warning, the status shows the pair in use, it is bound on the bind host
// (loopback unless exposed), a restart keeps it and a stop frees it.
func TestRTPPairRemapped(t *testing.T) {
	f := newFixture(t)
	busy, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(f.ports.RTP+1)) // only RTCP taken: the pair moves
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if err := f.manager.Start(); err != nil {
		t.Fatal(err)
	}
	st := f.manager.Status("127.0.0.1")
	rtp := st.Ports.RTP
	want := fmt.Sprintf("RTP/RTCP port pair %d/%d unavailable; using %d/%d.", f.ports.RTP, f.ports.RTP+1, rtp, rtp+1)
	if rtp == f.ports.RTP || rtp%2 != 0 || st.Ports.RTCP != rtp+1 || !slices.Equal(st.Warnings, []string{want}) {
		t.Fatalf("ports %+v, warnings %q; want the pair moved and %q", st.Ports, st.Warnings, want)
	}
	for _, port := range []int{rtp, rtp + 1} {
		if got := testutil.UDPBindAddresses(t, port); !slices.Equal(got, []string{"127.0.0.1"}) {
			t.Errorf("UDP port %d bound on %q, want only 127.0.0.1", port, got)
		}
	}
	busy.Close()
	if err := f.manager.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := f.manager.Status("").Ports; got.RTP != rtp || got.RTCP != rtp+1 {
		t.Errorf("restart moved the pair from %d/%d to %d/%d", rtp, rtp+1, got.RTP, got.RTCP)
	}
	if err := f.manager.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{rtp, rtp + 1} {
		if got := testutil.UDPBindAddresses(t, port); len(got) != 0 {
			t.Errorf("UDP port %d still bound on %q after stop", port, got)
		}
	}
}

// pathsList reads the engine API the way MediaMTX tools do.
func pathsList(t *testing.T, apiPort int) map[string]any {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v3/paths/list", apiPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	byName := map[string]any{}
	for _, it := range out.Items {
		byName[it["name"].(string)] = it
	}
	return byName
}

func TestPathsFollowSettingsLive(t *testing.T) {
	testutil.RequireFFmpeg(t)
	f := newFixture(t)
	if err := f.manager.Start(); err != nil {
		t.Fatal(err)
	}
	a := f.addTransmission(`{"id":"a","path":"cam-a","outputs":[{"id":"o","protocol":"rtsp"}]}`)
	f.addTransmission(`{"id":"off","path":"cam-off","enabled":false}`)
	f.addTransmission(`{"id":"elsewhere","path":"cam-remote","host_server_id":"edge"}`)
	testutil.Eventually(t, 5*time.Second, "path cam-a", func() bool { _, ok := pathsList(t, f.ports.API)["cam-a"]; return ok })
	paths := pathsList(t, f.ports.API)
	if _, ok := paths["test"]; !ok || len(paths) != 2 {
		t.Fatalf("paths = %v, want test and cam-a only", paths)
	}

	// A publisher with the path's HMAC credentials and a reader.
	f.publishAndRead(a.Path)
	testutil.Eventually(t, 10*time.Second, "an RTSP reader on cam-a", func() bool { return len(f.manager.Readers("cam-a")) == 1 })
	readerID := f.manager.Readers("cam-a")[0].ID
	if r := f.manager.Readers("cam-a")[0]; r.Type != "rtspSession" {
		t.Errorf("reader type %q", r.Type)
	}
	testutil.Eventually(t, 10*time.Second, "cam-a ready", func() bool { return pathsList(t, f.ports.API)["cam-a"].(map[string]any)["ready"] == true })
	listed := pathsList(t, f.ports.API)["cam-a"].(map[string]any)
	if readers := listed["readers"].([]any); len(readers) != 1 || readers[0].(map[string]any)["type"] != "rtspSession" || listed["ready"] != true {
		t.Errorf("/v3/paths/list cam-a = %v", listed)
	}

	// Adding a transmission with read auth applies live: the reader stays.
	f.addTransmission(`{"id":"b","path":"cam-b","outputs":[{"id":"o","protocol":"rtsp","authentication":{"enabled":true,"username":"viewer","password":"pw"}}]}`)
	testutil.Eventually(t, 5*time.Second, "path cam-b", func() bool { _, ok := pathsList(t, f.ports.API)["cam-b"]; return ok })
	if rs := f.manager.Readers("cam-a"); len(rs) != 1 || rs[0].ID != readerID {
		t.Errorf("the cam-a reader was disturbed: %+v", rs)
	}
	out, _ := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", fmt.Sprintf("rtsp://127.0.0.1:%d/cam-b", f.ports.RTSP)).CombinedOutput()
	if !strings.Contains(string(out), "401") {
		t.Errorf("cam-b without credentials: %s", out)
	}
	if f.manager.Status("").RestartCount != 0 {
		t.Error("a transmission change restarted the engine")
	}
}

func TestDemandEvents(t *testing.T) {
	testutil.RequireFFmpeg(t)
	f := newFixture(t)
	events, cancel := f.manager.SubscribeDemand()
	defer cancel()
	f.update(func(s *model.Settings) error {
		s.Engine.ReaderHoldSeconds = 2 // the reader below gives up after this
		return nil
	})
	if err := f.manager.Start(); err != nil {
		t.Fatal(err)
	}
	f.addTransmission(`{"id":"a","path":"idle"}`)
	testutil.Eventually(t, 5*time.Second, "path idle", func() bool { _, ok := pathsList(t, f.ports.API)["idle"]; return ok })
	probe := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", fmt.Sprintf("rtsp://127.0.0.1:%d/idle", f.ports.RTSP))
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	next := func() engine.DemandEvent {
		select {
		case ev := <-events:
			return ev
		case <-time.After(15 * time.Second):
			t.Fatal("no demand event")
			return engine.DemandEvent{}
		}
	}
	if ev := next(); ev != (engine.DemandEvent{Path: "idle", Demanded: true}) {
		t.Errorf("first event %+v", ev)
	}
	if !f.manager.Demanded("idle") {
		t.Error("Demanded(idle) is false while a reader waits")
	}
	_ = probe.Wait() // the hold times out: nobody publishes
	if ev := next(); ev != (engine.DemandEvent{Path: "idle", Demanded: false}) {
		t.Errorf("second event %+v", ev)
	}
}

// The reproduction of issue 9: a PATCH of the ICE servers restarted the
// engine and dropped every reader. ICE servers and the reader hold apply to
// the running engine; a reader stays, and the engine instance is the same.
func TestICEServersAndHoldApplyLive(t *testing.T) {
	testutil.RequireFFmpeg(t)
	f := newFixture(t)
	if err := f.manager.Start(); err != nil {
		t.Fatal(err)
	}
	f.addTransmission(`{"id":"a","path":"cam-a","outputs":[{"id":"o","protocol":"rtsp"}]}`)
	testutil.Eventually(t, 5*time.Second, "path cam-a in the state", func() bool { _, ok := f.manager.State().Path("cam-a"); return ok })
	f.publishAndRead("cam-a")
	testutil.Eventually(t, 10*time.Second, "an RTSP reader on cam-a", func() bool { return len(f.manager.Readers("cam-a")) == 1 })
	readerID := f.manager.Readers("cam-a")[0].ID
	before := f.manager.Status("")

	f.update(func(s *model.Settings) error {
		s.Engine.WebRTCICEServers = []string{"stun:127.0.0.1:3478"}
		s.Engine.ReaderHoldSeconds = 3
		return nil
	})
	testutil.Eventually(t, 5*time.Second, "the change applied", func() bool { return f.manager.State().Revision == f.store.Current().Revision })
	after := f.manager.Status("")
	if after.RestartCount != before.RestartCount || after.Generation != before.Generation || *after.PID != *before.PID {
		t.Fatalf("the engine was restarted: before %+v, after %+v", before, after)
	}
	if rs := f.manager.Readers("cam-a"); len(rs) != 1 || rs[0].ID != readerID {
		t.Fatalf("the RTSP reader was dropped: %+v", rs)
	}

	// A change of what the engine listens on does make a new instance.
	next := testutil.FreePorts(t, 1)[0]
	f.update(func(s *model.Settings) error {
		s.Engine.PreferredPorts.RTSP = next
		return nil
	})
	testutil.Eventually(t, 5*time.Second, "engine on the new RTSP port", func() bool { return f.manager.State().Ports.RTSP == next })
	st := f.manager.State()
	if st.Generation == before.Generation || st.Restarts != before.RestartCount+1 {
		t.Errorf("port change: generation %d (was %d), restarts %d", st.Generation, before.Generation, st.Restarts)
	}
	if p, _ := st.Path("cam-a"); !strings.Contains(p.PublishURL, fmt.Sprintf(":%d/cam-a", next)) {
		t.Errorf("publish URL does not follow the port: %q", p.PublishURL)
	}
}

// publishAndRead starts an ffmpeg publisher into path (with its publish
// credentials) and an ffmpeg RTSP reader of it, both ended by the cleanup.
func (f *fixture) publishAndRead(path string) {
	f.t.Helper()
	pub := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15",
		"-f", "rtsp", "-rtsp_transport", "tcp", f.publishURL(path))
	if err := pub.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { pub.Process.Kill(); pub.Wait() })
	reader := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
		"-i", fmt.Sprintf("rtsp://127.0.0.1:%d/%s", f.ports.RTSP, path), "-f", "null", "-")
	if err := reader.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { reader.Process.Kill(); reader.Wait() })
}

// A start that fails (a kind whose first starts fail) is retried with
// backoff until it succeeds.
func TestFailedStartIsRetried(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := testutil.FreePorts(t, 4)
	testutil.Update(t, st, func(s *model.Settings) error {
		s.Engine.Enabled = true
		s.Engine.PreferredPorts = model.Ports{RTSP: p[0], HLS: p[1], WebRTC: p[2], API: p[3], RTP: testutil.FreeRTPPort(t)}
		return nil
	})
	flaky := &flakyKind{Kind: embedded.Kind{}, failures: 2}
	m := &engine.Manager{Store: st, Kinds: map[string]engine.Kind{model.EngineEmbedded: flaky}, ServerID: "local", RuntimeDir: filepath.Join(dir, "runtime", "streaming")}
	if err := m.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.State().Running {
		t.Fatal("the first start should have failed")
	}
	took := testutil.Eventually(t, 10*time.Second, "the engine running after retries", func() bool { return m.State().Running })
	if took < 2*time.Second { // 1 s, then 2 s
		t.Errorf("running after %v: the retries did not back off", took)
	}
}

// flakyKind is the embedded kind whose first starts fail, standing in for
// a port taken meanwhile or a download that failed.
type flakyKind struct {
	embedded.Kind
	mu       sync.Mutex
	failures int
}

func (k *flakyKind) New(cfg engine.RunConfig) engine.Engine {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.failures > 0 {
		k.failures--
		return failingEngine{k.Kind.New(cfg)}
	}
	return k.Kind.New(cfg)
}

type failingEngine struct{ engine.Engine }

func (failingEngine) Initialize() error { return errors.New("cannot start now") }

// A sink opens on the instance a state describes, and that instance's
// restart closes it: the caller opens a new one on the next generation.
func TestStateOpenSinkFollowsTheInstance(t *testing.T) {
	f := newFixture(t)
	if _, err := f.manager.State().OpenSink(model.TestPath); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("sink of a stopped engine: %v", err)
	}
	if err := f.manager.Start(); err != nil {
		t.Fatal(err)
	}
	st := f.manager.State()
	if _, err := st.OpenSink("nope"); !errors.Is(err, engine.ErrUnknownPath) {
		t.Fatalf("sink of an unknown path: %v", err)
	}
	sink, err := st.OpenSink(model.TestPath)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := sink.WriteAccessUnit(0, [][]byte{{0x41, 0x9a}}); err != nil {
		t.Fatal(err)
	}
	if err := f.manager.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := sink.WriteAccessUnit(time.Second, [][]byte{{0x41, 0x9a}}); !errors.Is(err, engine.ErrSinkClosed) {
		t.Fatalf("sink of the previous instance: %v", err)
	}
	next := f.manager.State()
	if next.Generation == st.Generation {
		t.Fatal("the restart kept the generation")
	}
	again, err := next.OpenSink(model.TestPath)
	if err != nil {
		t.Fatalf("sink of the new instance: %v", err)
	}
	again.Close()
	if _, err := st.OpenSink(model.TestPath); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("sink opened on a stale state: %v", err)
	}
}
