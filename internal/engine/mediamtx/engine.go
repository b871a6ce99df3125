package mediamtx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// Timing of the engine.
const (
	readyTimeout = 10 * time.Second       // start to API answering
	pollEvery    = 500 * time.Millisecond // readers from /v3/paths/list
	// holdDefault is how long MediaMTX holds a reader of an idle path
	// while our publisher starts (runOnDemandStartTimeout).
	holdDefault = 10 * time.Second
	// closeAfter is how long MediaMTX keeps the hook after the last reader
	// left; the bridge's own debounce comes on top.
	closeAfter = time.Second
	keepLogs   = 8
)

// Kind is the MediaMTX engine kind: one installer (one download, one
// progress) per MediaMTX version for all its instances.
type Kind struct {
	// Version is the MediaMTX version the settings ask for now.
	Version func() string
	// DataRuntimeDir is <data dir>/runtime (the binary cache root unless
	// TOPOSYNC_STREAMING_ENGINE_CACHE_DIR says otherwise).
	DataRuntimeDir string
	// RuntimeDir is <data dir>/runtime/streaming: config, logs, hook socket.
	RuntimeDir string
	// Hook is the argv MediaMTX runs for on-demand paths, without the
	// socket argument: our binary and HookCommand.
	Hook   []string
	Getenv func(string) string
	Logger *slog.Logger

	mu         sync.Mutex
	installers map[string]*Installer
	running    *Engine // the instance that runs now, for Describe
}

// installer is the installer of the version the settings name now.
func (k *Kind) installer() *Installer {
	v := k.Version()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.installers == nil {
		k.installers = map[string]*Installer{}
	}
	in := k.installers[v]
	if in == nil {
		in = &Installer{Version: v, DataRuntimeDir: k.DataRuntimeDir, Getenv: k.Getenv, Logger: k.Logger}
		k.installers[v] = in
	}
	return in
}

// New makes an instance for cfg.
func (k *Kind) New(cfg engine.RunConfig) engine.Engine { return &Engine{Config: cfg, kind: k} }

// Install resolves or downloads the binary.
func (k *Kind) Install(ctx context.Context) error {
	_, err := k.installer().Install(ctx)
	return err
}

func (k *Kind) setRunning(e *Engine) {
	k.mu.Lock()
	k.running = e
	k.mu.Unlock()
}

// managedPID is the pid of the MediaMTX this kind runs now, or 0.
func (k *Kind) managedPID() int {
	k.mu.Lock()
	e := k.running
	k.mu.Unlock()
	if e == nil {
		return 0
	}
	return e.PID()
}

// Reclaim stops MediaMTX processes of this data dir that no instance
// manages (SIGTERM, then SIGKILL after 5 s).
func (k *Kind) Reclaim() []int { return reclaim(k.ConfigPath(), k.managedPID(), 5*time.Second) }

// ConfigPath is where the rendered config is written.
func (k *Kind) ConfigPath() string { return filepath.Join(k.RuntimeDir, "mediamtx.yml") }

// Describe reports the platform, binary, config, strays and download.
func (k *Kind) Describe() engine.KindInfo {
	in := k.installer()
	info := engine.KindInfo{Platform: in.Platform()}
	if bin := in.BinaryPath(); bin != "" {
		info.BinaryPath = &bin
	}
	cfg := k.ConfigPath()
	info.ConfigPath = &cfg
	info.OrphanPIDs = strays(cfg, k.managedPID())
	p := in.Progress()
	info.Download = engine.Download{Active: p.Active, Done: p.Done, Total: p.Total, Error: p.Err}
	return info
}

// Engine is one MediaMTX process run as the service's engine.
type Engine struct {
	Config engine.RunConfig
	kind   *Kind

	log    *slog.Logger
	api    *APIClient
	proc   *publisher.Process
	hook   *hookServer
	demand *engine.DemandQueue
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // desired settings changed
	sinks  sinkSet       // the service's publish sessions (sink.go)

	mu      sync.Mutex
	desired desired                    // what the engine should serve
	filed   desired                    // what the running MediaMTX's config file says
	readers map[string][]engine.Reader // last /v3/paths/list
	refused map[string]string          // paths whose held readers to refuse, with why
}

// desired is what SetPaths, SetICEServers, SetReaderHold and
// SetHLSVariant asked for.
type desired struct {
	paths []engine.Path
	ice   []string
	hold  time.Duration
	hls   model.HLSVariant
}

// Initialize installs the binary if needed, writes the config, starts
// MediaMTX and waits until its API answers.
func (e *Engine) Initialize() error {
	k := e.kind
	e.log = k.Logger
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	bin, err := k.installer().Install(context.Background())
	if err != nil {
		return err
	}
	engine.UsableICEServers(e.Config.ICEServers, e.log) // warns about the entries ICEServers leaves out
	e.desired = desired{paths: e.Config.Paths, ice: e.Config.ICEServers, hold: e.Config.ReaderHoldTimeout, hls: e.Config.HLSVariant}
	e.readers = map[string][]engine.Reader{}
	e.wake = make(chan struct{}, 1)
	e.api = &APIClient{BaseURL: "http://127.0.0.1:" + strconv.Itoa(e.Config.Ports.API)}

	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.demand = engine.NewDemandQueue()
	e.wg.Go(func() { e.demand.Run(ctx) })
	if e.hook, err = listenHook(k.RuntimeDir, e.setDemand, e.log); err != nil {
		e.stopAll()
		return err
	}
	e.proc = &publisher.Process{
		Spec: publisher.Spec{
			Name: "mediamtx", Binary: bin, Args: []string{k.ConfigPath()}, Dir: k.RuntimeDir, StdoutAsStderr: true,
			BeforeStart: e.writeConfig,
		},
		Supervision: publisher.Supervision{
			LogDir: filepath.Join(k.RuntimeDir, "logs"), LogPrefix: "mediamtx", KeepLogs: keepLogs,
			BackoffMin: time.Second, BackoffMax: 20 * time.Second, Budget: 8, StopTimeout: 5 * time.Second,
			Logger: e.log,
		},
	}
	if err := e.proc.Initialize(); err != nil {
		e.stopAll()
		return err
	}
	if err := e.waitReady(); err != nil {
		e.stopAll()
		return err
	}
	e.wg.Go(func() { e.run(ctx) })
	k.setRunning(e)
	e.log.Info("MediaMTX started", "pid", e.PID(), "binary", bin, "config", k.ConfigPath(), "log", e.LogPath())
	return nil
}

// writeConfig writes what the engine should serve into the config file,
// before each start of MediaMTX. It is never written while MediaMTX runs:
// MediaMTX watches the file and reloads (and may restart) on a rewrite, so
// changes reach a running MediaMTX through its API alone.
func (e *Engine) writeConfig() error {
	d := e.snapshot()
	if err := WriteConfig(e.kind.ConfigPath(), e.input(d)); err != nil {
		return fmt.Errorf("write the MediaMTX config: %w", err)
	}
	e.mu.Lock()
	e.filed = d
	e.mu.Unlock()
	return nil
}

// waitReady waits for the API, failing at once when MediaMTX exits.
func (e *Engine) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := e.api.Ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if st := e.proc.Status(); st.LastError != "" {
			return fmt.Errorf("MediaMTX exited while starting: %s%s", st.LastError, logHint(st.StderrTail))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("MediaMTX did not answer on its API port %d within %v%s", e.Config.Ports.API, readyTimeout, logHint(e.proc.Status().StderrTail))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logHint is MediaMTX's last error line, for error messages.
func logHint(tail []string) string {
	for i := len(tail) - 1; i >= 0; i-- {
		for _, level := range []string{" ERR ", " FTL "} {
			if _, msg, ok := strings.Cut(tail[i], level); ok {
				return ". MediaMTX log: " + msg
			}
		}
	}
	return ""
}

// Close stops MediaMTX and everything the engine started.
func (e *Engine) Close() { e.stopAll() }

func (e *Engine) stopAll() {
	e.sinks.closeUnless(nil)
	e.kind.setRunning(nil)
	if e.cancel != nil {
		e.cancel()
	}
	if e.proc != nil {
		e.proc.Close()
	}
	if e.hook != nil {
		e.hook.close()
	}
	e.wg.Wait()
	if e.demand != nil {
		e.demand.Close()
	}
}

// run applies desired changes through the API and polls the readers.
func (e *Engine) run(ctx context.Context) {
	// A MediaMTX that the supervisor restarted serves what writeConfig
	// filed just before; changes made since reach it through the API.
	applied, pid := e.filedState(), e.PID()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
			e.refuseHeld(ctx, &applied)
			want := e.snapshot()
			if err := e.apply(ctx, applied, want); err != nil {
				e.log.Error("MediaMTX did not take the change; it will be retried", "err", err)
				continue
			}
			applied = want
		case <-tick.C:
			st := e.proc.Status()
			if !st.Running {
				continue // the supervisor restarts it with the config file
			}
			if st.PID != pid {
				applied, pid = e.filedState(), st.PID
			}
			if pending := e.snapshot(); !sameDesired(pending, applied) {
				e.poke() // a change failed before: try again
			}
			e.pollReaders(ctx)
		}
	}
}

func (e *Engine) filedState() desired {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.filed
}

func (e *Engine) snapshot() desired {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.desired
}

func sameDesired(a, b desired) bool {
	return slices.Equal(a.paths, b.paths) && slices.Equal(a.ice, b.ice) && a.hold == b.hold && a.hls == b.hls
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// apply brings the running MediaMTX from have to want through its API:
// users first, then paths. Each step is idempotent (a path that exists
// already is replaced, one that is gone already is fine), so a retry after
// a partial failure converges.
func (e *Engine) apply(ctx context.Context, have, want desired) error {
	in := e.input(want)
	users, err := AuthUsers(want.paths)
	if err != nil {
		return err
	}
	patch := GlobalPatch{AuthInternalUsers: users}
	if !slices.Equal(have.ice, want.ice) {
		ice := ICEServers(want.ice)
		patch.WebRTCICEServers2 = &ice
	}
	if HLSVariant(have.hls) != HLSVariant(want.hls) {
		patch.HLSVariant = HLSVariant(want.hls)
	}
	// Users first when paths are added (so a new path's publisher is let
	// in), last when they are removed; both orders are safe for viewers
	// of paths that stay.
	names := func(ps []engine.Path) map[string]bool {
		m := map[string]bool{}
		for _, p := range ps {
			m[p.Name] = true
		}
		return m
	}
	old, next := names(have.paths), names(want.paths)
	if err := e.api.PatchGlobal(ctx, patch); err != nil {
		return err
	}
	for _, p := range in.Paths {
		conf, err := NewPathConf(p, e.hookArgv())
		if err != nil {
			return err
		}
		switch {
		case !old[p.Name]:
			if err = e.api.AddPath(ctx, p.Name, conf); refusedBecause(err, "already exists") {
				err = e.api.ReplacePath(ctx, p.Name, conf)
			}
		case have.hold != want.hold:
			err = e.api.ReplacePath(ctx, p.Name, conf)
		}
		if err != nil {
			return err
		}
	}
	for name := range old {
		if !next[name] {
			if err := e.api.DeletePath(ctx, name); err != nil && !refusedBecause(err, "not found") {
				return err
			}
		}
	}
	return nil
}

// refusedBecause reports whether MediaMTX refused a request saying why.
func refusedBecause(err error, why string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Message, why)
}

func (e *Engine) hookArgv() []string {
	return append(slices.Clone(e.kind.Hook), "--socket", e.hook.path())
}

// input is the config for d.
func (e *Engine) input(d desired) ConfigInput {
	hold := d.hold
	if hold <= 0 {
		hold = holdDefault
	}
	c := e.Config
	in := ConfigInput{
		BindHost: c.BindHost, Ports: c.Ports,
		ICEServers: d.ice, WebRTCAdditionalHosts: c.WebRTCAdditionalHosts,
		WebRTCLocalUDPAddress: c.WebRTCLocalUDPAddress, WebRTCLocalTCPAddress: c.WebRTCLocalTCPAddress,
		Hook:       e.hookArgv(),
		HLSVariant: d.hls,
	}
	if c.TLS != nil {
		in.TLSCertFile, in.TLSKeyFile = c.TLS.CertFile, c.TLS.KeyFile
	}
	for _, p := range d.paths {
		in.Paths = append(in.Paths, PathInput{Path: p, OnDemand: true, StartTimeout: hold, CloseAfter: closeAfter})
	}
	return in
}

// pollReaders refreshes the readers and the demand they imply.
func (e *Engine) pollReaders(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	readers, err := e.api.PathsList(ctx)
	if err != nil {
		return
	}
	e.mu.Lock()
	before := e.readers
	e.readers = readers
	e.mu.Unlock()
	for name := range readers {
		e.setDemand(name, e.hook.demanded(name))
	}
	for name := range before {
		if _, ok := readers[name]; !ok {
			e.setDemand(name, e.hook.demanded(name))
		}
	}
}

// setDemand recomputes a path's demand: a hook that MediaMTX runs for it
// (held: a reader waits or watches), or readers in the last list (a path
// that had a publisher before its readers came never runs the hook).
func (e *Engine) setDemand(path string, held bool) {
	e.mu.Lock()
	n := len(e.readers[path])
	e.mu.Unlock()
	e.demand.Set(path, held || n > 0)
}

// SetPaths changes the served paths live; the sinks of paths no longer
// served are closed.
func (e *Engine) SetPaths(paths []engine.Path) {
	e.mu.Lock()
	e.desired.paths = slices.Clone(paths)
	e.mu.Unlock()
	e.sinks.closeUnless(func(name string) bool {
		return slices.ContainsFunc(paths, func(p engine.Path) bool { return p.Name == name })
	})
	e.poke()
}

// SetICEServers changes the ICE servers of new WebRTC sessions.
func (e *Engine) SetICEServers(urls []string) {
	engine.UsableICEServers(urls, e.log) // warns about the entries ICEServers leaves out
	e.mu.Lock()
	e.desired.ice = slices.Clone(urls)
	e.mu.Unlock()
	e.poke()
}

// RefuseReaders refuses the readers MediaMTX holds on path (see
// engine.Engine); the engine's goroutine does it.
func (e *Engine) RefuseReaders(path, reason string) {
	if e.sinks.has(path) || !e.hook.demanded(path) {
		return // published, or nobody is held
	}
	e.mu.Lock()
	if e.refused == nil {
		e.refused = map[string]string{}
	}
	e.refused[path] = reason
	e.mu.Unlock()
	e.poke()
}

// refuseHeld refuses the readers held on the paths RefuseReaders named.
// MediaMTX has no API call that ends a hold, but it refuses the readers
// of a path that is removed ("terminated", RTSP 400, HTTP 404) at once,
// so the path is removed and added again, unchanged. Only paths without a
// publisher are refused, so no reader that watches is cut off. A path
// that could not be added again leaves applied, so apply adds it.
func (e *Engine) refuseHeld(ctx context.Context, applied *desired) {
	e.mu.Lock()
	refused := e.refused
	e.refused = nil
	e.mu.Unlock()
	in := e.input(*applied)
	for _, p := range in.Paths {
		reason, ok := refused[p.Name]
		if !ok || e.sinks.has(p.Name) || !e.hook.demanded(p.Name) {
			continue
		}
		e.hook.refuse(p.Name, reason)
		conf, err := NewPathConf(p, e.hookArgv())
		if err == nil {
			if err = e.api.DeletePath(ctx, p.Name); err == nil {
				if err = e.api.AddPath(ctx, p.Name, conf); err != nil {
					applied.paths = slices.DeleteFunc(slices.Clone(applied.paths), func(q engine.Path) bool { return q.Name == p.Name })
				}
			}
		}
		if err != nil {
			e.log.Error("MediaMTX keeps holding readers of a path that cannot start; they wait for the hold timeout", "path", p.Name, "err", err)
			continue
		}
		e.log.Warn("held readers refused: the stream cannot start", "path", p.Name, "reason", reason)
	}
}

// SetReaderHold changes how long MediaMTX holds readers of idle paths.
func (e *Engine) SetReaderHold(d time.Duration) {
	e.mu.Lock()
	e.desired.hold = d
	e.mu.Unlock()
	e.poke()
}

// SetHLSVariant changes how MediaMTX serves HLS (it restarts its HLS
// server: HLS players reload).
func (e *Engine) SetHLSVariant(v model.HLSVariant) {
	e.mu.Lock()
	e.desired.hls = v
	e.mu.Unlock()
	e.poke()
}

// Readers lists the viewers of path as of the last poll.
func (e *Engine) Readers(path string) []engine.Reader {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.readers[path])
}

// Demand delivers demand changes until Close.
func (e *Engine) Demand() <-chan engine.DemandEvent { return e.demand.Out() }

// PID is MediaMTX's process id (0 while it is restarted).
func (e *Engine) PID() int { return e.proc.Status().PID }

// LogPath is MediaMTX's current log file.
func (e *Engine) LogPath() string { return e.proc.Status().LogPath }

// LastError is why MediaMTX last exited, with its last error line.
func (e *Engine) LastError() string {
	st := e.proc.Status()
	if st.LastError == "" {
		return ""
	}
	return st.LastError + logHint(st.StderrTail)
}

// Restarts counts MediaMTX's unexpected exits.
func (e *Engine) Restarts() int { return e.proc.Status().Restarts }
