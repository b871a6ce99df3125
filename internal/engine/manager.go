package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

// DefaultRTPPort is the first RTP port tried for RTSP over UDP.
const DefaultRTPPort = 50000

// WebRTCNetwork are the WebRTC knobs read from the environment.
type WebRTCNetwork struct {
	AdditionalHosts []string
	LocalUDPAddress string
	LocalTCPAddress string
}

// ManagerOptions are what a Manager needs.
type ManagerOptions struct {
	Store      *store.Store
	Engine     Engine // the engine to run (its kind is KindEmbedded unless told)
	Kind       string
	ServerID   string // transmissions hosted here have this host_server_id
	RuntimeDir string // <data dir>/runtime/streaming
	WebRTC     WebRTCNetwork
	Logger     *slog.Logger
}

// Manager runs the engine as the settings say.
type Manager struct {
	opts   ManagerOptions
	log    *slog.Logger
	secret []byte
	demand *demandHub

	mu         sync.Mutex // lifecycle: one start/stop/apply at a time
	appliedRev int64
	running    bool
	startedAt  time.Time
	startedFor engineKey // settings the running engine was started with
	bindHost   string
	ports      model.Ports // actual ports of the last start
	preferred  model.Ports // preferred ports of the last start
	rtpPort    int
	warnings   []string // port remaps of the last start
	lastError  string
	restarts   int
	starts     int
	paths      []Path
}

// engineKey is what, when changed, needs the engine restarted (paths apply live).
type engineKey struct {
	bindHost  string
	preferred model.Ports
	ice       string
	hold      int
}

func keyOf(e model.EngineSettings) engineKey {
	return engineKey{bindHost: bindHostOf(e), preferred: e.PreferredPorts, ice: fmt.Sprint(e.WebRTCICEServers), hold: e.ReaderHoldSeconds}
}

func bindHostOf(e model.EngineSettings) string {
	if e.ExposeToLAN {
		return "0.0.0.0"
	}
	return "127.0.0.1"
}

// NewManager prepares a manager; Run makes it follow the settings.
func NewManager(opts ManagerOptions) (*Manager, error) {
	if opts.Kind == "" {
		opts.Kind = KindEmbedded
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	secret, err := LoadOrCreateSecret(opts.RuntimeDir)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, log: opts.Logger, secret: secret, demand: newDemandHub()}
	m.ports = opts.Store.Current().Streams.Engine.PreferredPorts
	return m, nil
}

// Run applies the current settings, then every committed change, until ctx
// ends; then it stops the engine.
func (m *Manager) Run(ctx context.Context) {
	updates, cancel := m.opts.Store.Subscribe()
	defer cancel()
	m.applyLogged(m.opts.Store.Current())
	for {
		select {
		case ev := <-m.opts.Engine.Demand():
			m.demand.publish(ev)
		case doc := <-updates:
			m.applyLogged(doc)
		case <-ctx.Done():
			m.mu.Lock()
			m.stopLocked()
			m.mu.Unlock()
			return
		}
	}
}

func (m *Manager) applyLogged(doc *store.Document) {
	if err := m.apply(doc, false); err != nil {
		m.log.Error("engine could not be started", "err", err)
	}
}

// Start persists engine.enabled=true and starts the engine.
func (m *Manager) Start() error { return m.setEnabled(true) }

// Stop persists engine.enabled=false and stops the engine.
func (m *Manager) Stop() error { return m.setEnabled(false) }

func (m *Manager) setEnabled(on bool) error {
	doc, err := m.opts.Store.Update(func(s *model.Settings) error {
		s.Engine.Enabled = on
		return nil
	})
	if err != nil {
		return err
	}
	return m.apply(doc, false)
}

// Restart stops and starts the engine, keeping its ports when they are
// still free. A disabled engine is just stopped.
func (m *Manager) Restart() error {
	return m.apply(m.opts.Store.Current(), true)
}

// apply brings the engine in line with doc. Paths change live; a change of
// bind host, preferred ports or ICE servers restarts the engine.
func (m *Manager) apply(doc *store.Document, restart bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if doc.Revision < m.appliedRev || (doc.Revision == m.appliedRev && !restart) {
		return nil
	}
	m.appliedRev = doc.Revision
	settings := doc.Streams
	m.paths = m.pathsFor(settings)
	if !settings.Engine.Enabled {
		m.stopLocked()
		return nil
	}
	if m.running && !restart && m.startedFor == keyOf(settings.Engine) {
		m.opts.Engine.SetPaths(m.paths)
		return nil
	}
	if m.running {
		m.stopLocked()
		m.restarts++
	}
	return m.startLocked(settings.Engine)
}

func (m *Manager) startLocked(es model.EngineSettings) error {
	bindHost := bindHostOf(es)
	var previous *model.Ports
	if m.starts > 0 && m.preferred == es.PreferredPorts && m.bindHost == bindHost {
		previous = &m.ports // keep the ports of the last start when free: no drift
	}
	ports, warnings, err := ResolvePorts(bindHost, es.PreferredPorts, previous)
	if err == nil {
		m.rtpPort, err = ResolveRTPPair(bindHost, DefaultRTPPort, m.rtpPort)
	}
	if err == nil {
		err = m.opts.Engine.Start(RunConfig{
			BindHost:              bindHost,
			Ports:                 ports,
			RTPPort:               m.rtpPort,
			Paths:                 m.paths,
			RuntimeDir:            m.opts.RuntimeDir,
			ReaderHoldTimeout:     time.Duration(es.ReaderHoldSeconds) * time.Second,
			ICEServers:            es.WebRTCICEServers,
			WebRTCAdditionalHosts: m.opts.WebRTC.AdditionalHosts,
			WebRTCLocalUDPAddress: m.opts.WebRTC.LocalUDPAddress,
			WebRTCLocalTCPAddress: m.opts.WebRTC.LocalTCPAddress,
		})
	}
	m.starts++
	if err != nil {
		m.lastError = err.Error()
		m.running = false
		return fmt.Errorf("start %s engine: %w", m.opts.Kind, err)
	}
	m.running, m.startedAt, m.startedFor = true, time.Now(), keyOf(es)
	m.bindHost, m.ports, m.preferred, m.warnings, m.lastError = bindHost, ports, es.PreferredPorts, warnings, ""
	for _, w := range warnings {
		m.log.Warn(w)
	}
	m.log.Info("engine started", "kind", m.opts.Kind, "bind", bindHost, "rtsp", ports.RTSP, "hls", ports.HLS, "webrtc", ports.WebRTC, "api", ports.API, "paths", len(m.paths))
	return nil
}

func (m *Manager) stopLocked() {
	if !m.running {
		return
	}
	if err := m.opts.Engine.Stop(); err != nil {
		m.lastError = err.Error()
		m.log.Error("engine stop failed", "err", err)
	}
	m.running = false
	m.demand.releaseAll()
	m.log.Info("engine stopped")
}

// pathsFor lists the engine paths for settings: "test", then every resolved
// output path of each enabled transmission hosted here (its own path when it
// has no enabled output), with read and publish credentials.
func (m *Manager) pathsFor(s model.Settings) []Path {
	paths := []Path{m.withPublish(Path{Name: model.TestPath})}
	index := map[string]int{model.TestPath: 0}
	add := func(p Path) {
		if i, ok := index[p.Name]; ok {
			if paths[i].ReadUser == "" { // a transmission's credentials win over the test pattern's none
				paths[i].ReadUser, paths[i].ReadPass = p.ReadUser, p.ReadPass
			}
			return
		}
		index[p.Name] = len(paths)
		paths = append(paths, m.withPublish(p))
	}
	for i := range s.Transmissions {
		t := &s.Transmissions[i]
		if !t.Enabled || !m.hostedHere(t.HostServerID) {
			continue
		}
		outputs := t.EnabledOutputs()
		if len(outputs) == 0 {
			add(Path{Name: t.Path})
		}
		for _, o := range outputs {
			p := Path{Name: t.OutputPath(o)}
			if o.Authentication.Applies() {
				p.ReadUser, p.ReadPass = *o.Authentication.Username, *o.Authentication.Password
			}
			add(p)
		}
	}
	return paths
}

func (m *Manager) hostedHere(host string) bool {
	return host == m.opts.ServerID || (host == model.LocalHost && m.opts.ServerID == model.LocalHost)
}

func (m *Manager) withPublish(p Path) Path {
	p.PublishUser, p.PublishPass = PublishCredentials(m.secret, p.Name)
	return p
}

// TestPatternServed reports whether the built-in test pattern owns the
// "test" path (no transmission hosted here took it over).
func (m *Manager) TestPatternServed() bool {
	s := m.opts.Store.Current().Streams
	for i := range s.Transmissions {
		t := &s.Transmissions[i]
		if t.Enabled && m.hostedHere(t.HostServerID) && slices.Contains(t.EnginePaths(), model.TestPath) {
			return false
		}
	}
	return true
}

// Running reports whether the engine runs, and its actual ports (the
// preferred ones when it never started).
func (m *Manager) Running() (bool, model.Ports) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running, m.ports
}

// PublishURL is where a publisher pushes path: RTSP on loopback with the
// path's credentials. It holds secrets: never log it.
func (m *Manager) PublishURL(path string) string {
	_, ports := m.Running()
	user, pass := PublishCredentials(m.secret, path)
	u := url.URL{Scheme: "rtsp", User: url.UserPassword(user, pass), Host: "127.0.0.1:" + strconv.Itoa(ports.RTSP), Path: "/" + path}
	return u.String()
}

// PublishSecretFor returns the credentials of path, to redact them.
func (m *Manager) PublishSecretFor(path string) (user, pass string) {
	return PublishCredentials(m.secret, path)
}

// SubscribeDemand delivers demand changes (first reader arrived, last reader
// left), starting with the paths demanded now. Call cancel when done.
func (m *Manager) SubscribeDemand() (<-chan DemandEvent, func()) { return m.demand.subscribe() }

// Demanded reports whether path has readers now.
func (m *Manager) Demanded(path string) bool { return m.demand.isDemanded(path) }

// Readers lists the viewers of path.
func (m *Manager) Readers(path string) []Reader {
	m.mu.Lock()
	running := m.running
	m.mu.Unlock()
	if !running {
		return nil
	}
	return m.opts.Engine.Readers(path)
}

// StatusURLs are the test path's URLs.
type StatusURLs struct {
	RTSP   string `json:"rtsp_url"`
	HLS    string `json:"hls_url"`
	WebRTC string `json:"webrtc_url"`
}

// Status is the engine status payload of GET /engine/status.
type Status struct {
	Running         bool        `json:"running"`
	PID             *int        `json:"pid"`
	UptimeSeconds   *float64    `json:"uptime_seconds"`
	StartedAtUnix   *float64    `json:"started_at_unix"`
	BindHost        string      `json:"bind_host"`
	Ports           model.Ports `json:"ports"`
	LastError       *string     `json:"last_error"`
	MediaMTXVersion string      `json:"mediamtx_version"`
	LogPath         *string     `json:"log_path"`
	TestPath        string      `json:"test_path"`
	URLs            StatusURLs  `json:"urls"`
	Warnings        []string    `json:"warnings"`
	Kind            string      `json:"kind"`
	RestartCount    int         `json:"restart_count"`
}

// Status reports the engine; host is the host for the test URLs.
func (m *Manager) Status(host string) Status {
	engineSettings := m.opts.Store.Current().Streams.Engine
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{
		Running:         m.running,
		BindHost:        m.bindHost,
		Ports:           m.ports,
		MediaMTXVersion: engineSettings.MediaMTXVersion,
		TestPath:        model.TestPath,
		Kind:            m.opts.Kind,
		RestartCount:    m.restarts,
		Warnings:        slices.Clone(m.warnings),
	}
	if st.BindHost == "" {
		st.BindHost = bindHostOf(engineSettings)
	}
	if st.Warnings == nil {
		st.Warnings = []string{}
	}
	if m.running {
		pid := m.opts.Engine.PID()
		up := time.Since(m.startedAt).Seconds()
		at := float64(m.startedAt.UnixMicro()) / 1e6
		st.PID, st.UptimeSeconds, st.StartedAtUnix = &pid, &up, &at
		if lp := m.opts.Engine.LogPath(); lp != "" {
			st.LogPath = &lp
		}
	}
	if m.lastError != "" {
		e := m.lastError
		st.LastError = &e
	}
	switch {
	case !engineSettings.Enabled:
		st.Warnings = append(st.Warnings, "Engine is disabled in settings.")
	case !m.running:
		st.Warnings = append(st.Warnings, "Engine is enabled but not running.")
		if m.lastError != "" {
			st.Warnings = append(st.Warnings, "Last start failed: "+m.lastError)
		}
	}
	st.URLs = StatusURLs{
		RTSP:   model.PlaybackURL(model.ProtocolRTSP, host, st.Ports, model.TestPath),
		HLS:    model.PlaybackURL(model.ProtocolHLS, host, st.Ports, model.TestPath),
		WebRTC: model.PlaybackURL(model.ProtocolWebRTC, host, st.Ports, model.TestPath),
	}
	return st
}
