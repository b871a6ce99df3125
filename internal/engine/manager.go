package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/toposync/toposync-streaming/internal/broadcast"
	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

// WebRTCNetwork are the WebRTC knobs read from the environment.
type WebRTCNetwork struct {
	AdditionalHosts []string
	LocalUDPAddress string
	LocalTCPAddress string
}

// Manager runs the engine as the settings say: it is the link between the
// store and everything that acts on the engine. One goroutine owns the
// running instance; start, stop and restart requests are carried out by it
// and their callers wait for the result.
type Manager struct {
	Store      *store.Store
	Kinds      map[string]Kind // by engine.kind (model.EngineEmbedded, ...)
	ServerID   string          // transmissions hosted here have this host_server_id
	RuntimeDir string          // <data dir>/runtime/streaming
	WebRTC     WebRTCNetwork
	// TLS, when set, is served by every engine instance (RTSPS, HTTPS).
	// It is read once at startup, so it never restarts an engine.
	TLS    *config.TLS
	Logger *slog.Logger

	log     *slog.Logger
	secret  []byte
	demand  *demandHub
	state   broadcast.Latest[*State]
	updates <-chan *store.Document
	cancel  func()
	actions chan actionRequest
	done    chan struct{}
	ended   chan struct{}

	// Owned by the run goroutine.
	eng        Engine
	appliedRev int64
	startedFor engineKey // settings the running instance was made for
	starts     int
	current    State // what was last published, being changed
	retryDelay time.Duration
	retrying   bool // the retry timer is armed
}

type action int

const (
	actionStart action = iota
	actionStop
	actionRestart
	actionReclaim
)

type actionRequest struct {
	action action
	result chan error
	// reclaimed is what a reclaim stopped (set before result is sent).
	reclaimed *[]int
}

// engineKey is what, when changed, needs a new engine instance: what it
// listens on. Paths, ICE servers, the reader hold and the HLS variant
// apply live.
type engineKey struct {
	kind      string
	version   string // of an external engine's program
	bindHost  string
	preferred model.Ports
}

func keyOf(e model.EngineSettings) engineKey {
	k := engineKey{kind: kindOf(e), bindHost: bindHostOf(e), preferred: e.PreferredPorts}
	if k.kind == model.EngineMediaMTX {
		k.version = e.MediaMTXVersion
	}
	return k
}

func kindOf(e model.EngineSettings) string {
	if e.Kind == "" {
		return model.EngineEmbedded
	}
	return e.Kind
}

func bindHostOf(e model.EngineSettings) string {
	if e.ExposeToLAN {
		return "0.0.0.0"
	}
	return "127.0.0.1"
}

// Initialize applies the current settings (starting the engine when it is
// enabled; a failed start is reported in the state, not returned) and then
// follows every committed change.
func (m *Manager) Initialize() error {
	if m.Logger == nil {
		m.Logger = slog.New(slog.DiscardHandler)
	}
	m.log = m.Logger
	secret, err := LoadOrCreateSecret(m.RuntimeDir)
	if err != nil {
		return err
	}
	m.secret, m.demand = secret, newDemandHub()
	m.actions, m.done, m.ended = make(chan actionRequest), make(chan struct{}), make(chan struct{})
	m.updates, m.cancel = m.Store.Subscribe()
	doc := m.Store.Current()
	m.current = State{Kind: kindOf(doc.Streams.Engine), BindHost: bindHostOf(doc.Streams.Engine), Ports: doc.Streams.Engine.PreferredPorts}
	m.applyLogged(doc, false)
	go m.run()
	return nil
}

// Close stops the engine and the manager.
func (m *Manager) Close() {
	close(m.done)
	<-m.ended
	m.cancel()
}

func (m *Manager) run() {
	defer close(m.ended)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		m.scheduleRetry(retry)
		var demand <-chan DemandEvent
		if m.eng != nil {
			demand = m.eng.Demand()
		}
		select {
		case doc := <-m.updates:
			m.applyLogged(doc, false)
		case req := <-m.actions:
			req.result <- m.do(req)
		case <-retry.C:
			m.retrying = false
			m.applyLogged(m.Store.Current(), true)
		case ev, ok := <-demand:
			if ok {
				m.demand.publish(ev)
			}
		case <-m.done:
			m.stopEngine()
			m.publish()
			return
		}
	}
}

// Start retries of an enabled engine that is not running: the first after
// retryMin, doubling up to retryMax; a start that succeeds resets them.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// scheduleRetry arms retry when the engine should run and does not (its
// start failed: a port taken meanwhile, a download that failed).
func (m *Manager) scheduleRetry(retry *time.Timer) {
	want := m.Store.Current().Streams.Engine.Enabled && m.current.LastError != ""
	switch {
	case m.eng != nil || !want:
		m.retryDelay = 0
		retry.Stop()
	case !m.retrying:
		m.retryDelay = min(max(retryMin, 2*m.retryDelay), retryMax)
		retry.Reset(m.retryDelay)
		m.log.Warn("engine start failed; retrying", "in", m.retryDelay)
	default:
		return // armed already
	}
	m.retrying = want && m.eng == nil
}

func (m *Manager) applyLogged(doc *store.Document, restart bool) {
	if err := m.apply(doc, restart); err != nil {
		m.log.Error("engine could not be started", "err", err)
	}
}

// Download installs the configured kind's program without starting it.
// It runs on the caller's goroutine: the kind's own lock makes concurrent
// downloads (and a start) download once.
func (m *Manager) Download(ctx context.Context) error {
	kind := kindOf(m.Store.Current().Streams.Engine)
	k, ok := m.Kinds[kind]
	if !ok {
		return fmt.Errorf("engine kind %q is not available in this build", kind)
	}
	return k.Install(ctx)
}

// Start persists engine.enabled=true and starts the engine.
func (m *Manager) Start() error { return m.request(actionStart) }

// Stop persists engine.enabled=false and stops the engine.
func (m *Manager) Stop() error { return m.request(actionStop) }

// Restart makes a new engine instance, keeping the ports when they are
// still free. A disabled engine is just stopped.
func (m *Manager) Restart() error { return m.request(actionRestart) }

var errClosed = errors.New("the engine manager is shutting down")

// Reclaim stops the engine, then every stray process of its kind started
// for this data dir (one left by a service that was killed), and starts
// the engine again when it is enabled. It returns the pids it stopped.
func (m *Manager) Reclaim() ([]int, error) {
	var pids []int
	err := m.send(actionRequest{action: actionReclaim, result: make(chan error, 1), reclaimed: &pids})
	return pids, err
}

func (m *Manager) request(a action) error {
	return m.send(actionRequest{action: a, result: make(chan error, 1)})
}

func (m *Manager) send(req actionRequest) error {
	select {
	case m.actions <- req:
	case <-m.done:
		return errClosed
	}
	return <-req.result
}

func (m *Manager) do(req actionRequest) error {
	switch req.action {
	case actionRestart:
		return m.apply(m.Store.Current(), true)
	case actionReclaim:
		m.stopEngine()
		if r, ok := m.Kinds[kindOf(m.Store.Current().Streams.Engine)].(Reclaimer); ok {
			*req.reclaimed = r.Reclaim()
		}
		if len(*req.reclaimed) > 0 {
			m.log.Warn("stray engine processes of this data dir stopped", "pids", *req.reclaimed)
		}
		return m.apply(m.Store.Current(), true)
	}
	doc, err := m.Store.Update(func(s *model.Settings) error {
		s.Engine.Enabled = req.action == actionStart
		return nil
	})
	if err != nil {
		return err
	}
	return m.apply(doc, false)
}

// apply brings the engine in line with doc and publishes the new state.
// Paths, ICE servers, the reader hold and the HLS variant apply to the
// running instance; a change of kind, bind host or preferred ports makes a
// new one.
func (m *Manager) apply(doc *store.Document, restart bool) error {
	if doc.Revision < m.appliedRev || (doc.Revision == m.appliedRev && !restart) {
		return nil
	}
	m.appliedRev = doc.Revision
	settings := doc.Streams
	es := settings.Engine
	defer m.publish()
	m.current.Revision, m.current.Runtime, m.current.H264Encoder = doc.Revision, settings.Runtime, es.H264Encoder
	m.current.Paths = m.pathsFor(settings)
	if !es.Enabled {
		m.stopEngine()
		return nil
	}
	if m.eng != nil && !restart && m.startedFor == keyOf(es) {
		m.eng.SetPaths(enginePaths(m.current.Paths))
		m.eng.SetICEServers(es.WebRTCICEServers)
		m.eng.SetReaderHold(holdOf(es))
		m.eng.SetHLSVariant(es.HLSVariant)
		m.withPublishURLs()
		return nil
	}
	if k, ok := m.Kinds[kindOf(es)]; ok && m.eng != nil {
		// Install the new kind's program (a download) while the old
		// engine still serves; if that fails, the old one goes on.
		if err := k.Install(context.Background()); err != nil {
			m.current.LastError = err.Error()
			return fmt.Errorf("install the %s engine: %w", kindOf(es), err)
		}
	}
	if m.eng != nil {
		m.stopEngine()
		m.current.Restarts++
	}
	return m.startEngine(es)
}

func holdOf(es model.EngineSettings) time.Duration {
	return time.Duration(es.ReaderHoldSeconds) * time.Second
}

func (m *Manager) startEngine(es model.EngineSettings) error {
	kind, bindHost := kindOf(es), bindHostOf(es)
	st := &m.current
	st.Generation++
	st.Kind = kind
	k, ok := m.Kinds[kind]
	if !ok {
		st.LastError = fmt.Sprintf("engine kind %q is not available in this build", kind)
		return errors.New(st.LastError)
	}
	var previous *model.Ports
	if m.starts > 0 && m.startedFor.preferred == es.PreferredPorts && m.startedFor.bindHost == bindHost {
		previous = &st.Ports // keep the ports of the last start when free: no drift
	}
	m.starts++
	// A process of the kind left running by a service that was killed holds
	// our ports; the data dir's lock says it is ours to stop.
	var reclaimed []string
	if r, ok := k.(Reclaimer); ok {
		if pids := r.Reclaim(); len(pids) > 0 {
			reclaimed = append(reclaimed, fmt.Sprintf("Automatically recovered %d stale %s process(es) for this data directory (pids: %v).", len(pids), kind, pids))
			waitPortsFree(bindHost, es.PreferredPorts, 3*time.Second) // the kernel frees them a moment after the exit
		}
	}
	ports, warnings, err := ResolvePorts(bindHost, es.PreferredPorts, previous)
	warnings = append(reclaimed, warnings...)
	var eng Engine
	if err == nil {
		eng = k.New(RunConfig{
			BindHost:              bindHost,
			Ports:                 ports,
			Paths:                 enginePaths(st.Paths),
			RuntimeDir:            m.RuntimeDir,
			TLS:                   m.TLS,
			ReaderHoldTimeout:     holdOf(es),
			HLSVariant:            es.HLSVariant,
			ICEServers:            es.WebRTCICEServers,
			WebRTCAdditionalHosts: m.WebRTC.AdditionalHosts,
			WebRTCLocalUDPAddress: m.WebRTC.LocalUDPAddress,
			WebRTCLocalTCPAddress: m.WebRTC.LocalTCPAddress,
		})
		err = eng.Initialize()
	}
	if err != nil {
		st.LastError = err.Error()
		return fmt.Errorf("start %s engine: %w", kind, err)
	}
	m.eng, m.startedFor = eng, keyOf(es)
	st.Running, st.StartedAt, st.BindHost, st.Ports, st.Warnings, st.LastError = true, time.Now(), bindHost, ports, warnings, ""
	st.engine = eng
	m.withPublishURLs()
	for _, w := range warnings {
		m.log.Warn(w)
	}
	m.log.Info("engine started", "kind", kind, "bind", bindHost, "rtsp", ports.RTSP, "hls", ports.HLS, "webrtc", ports.WebRTC, "api", ports.API, "rtp", ports.RTP, "tls", m.TLS != nil, "paths", len(st.Paths), "generation", st.Generation)
	return nil
}

func (m *Manager) stopEngine() {
	if m.eng == nil {
		return
	}
	m.eng.Close()
	m.eng = nil
	m.current.Running, m.current.engine = false, nil
	m.current.Generation++
	m.withPublishURLs()
	m.demand.releaseAll()
	m.log.Info("engine stopped")
}

// publish hands a copy of the current state to subscribers.
func (m *Manager) publish() {
	st := m.current
	st.Paths = slices.Clone(st.Paths)
	st.Warnings = slices.Clone(st.Warnings)
	m.state.Publish(&st)
}

// pathsFor lists the engine paths for settings: "test", then every output
// target hosted here, with read and publish credentials.
func (m *Manager) pathsFor(s model.Settings) []PathState {
	paths := []PathState{{Path: m.withPublish(Path{Name: model.TestPath})}}
	for _, t := range s.Targets(m.ServerID) {
		if t.Path == model.TestPath { // a transmission takes the path over from the test pattern
			paths[0].Target = &t
			paths[0].ReadUser, paths[0].ReadPass = t.ReadUser, t.ReadPass
			continue
		}
		paths = append(paths, PathState{Path: m.withPublish(Path{Name: t.Path, ReadUser: t.ReadUser, ReadPass: t.ReadPass}), Target: &t})
	}
	return paths
}

func (m *Manager) withPublish(p Path) Path {
	p.PublishUser, p.PublishPass = PublishCredentials(m.secret, p.Name)
	return p
}

// withPublishURLs sets (or clears, while stopped) every path's publish URL.
// With TLS the RTSP port speaks RTSPS only, so publishers use it too (over
// loopback; ffmpeg does not verify the certificate by default, which is
// what lets a certificate for another host name serve here).
func (m *Manager) withPublishURLs() {
	scheme := "rtsp"
	if m.TLS != nil {
		scheme = "rtsps"
	}
	for i := range m.current.Paths {
		p := &m.current.Paths[i]
		p.PublishURL = ""
		if m.current.Running {
			u := url.URL{Scheme: scheme, User: url.UserPassword(p.PublishUser, p.PublishPass), Host: "127.0.0.1:" + strconv.Itoa(m.current.Ports.RTSP), Path: "/" + p.Name}
			p.PublishURL = u.String()
		}
	}
}

func enginePaths(ps []PathState) []Path {
	out := make([]Path, len(ps))
	for i, p := range ps {
		out[i] = p.Path
	}
	return out
}

// State is the engine state now. Treat it as read-only.
func (m *Manager) State() *State { return m.state.Current() }

// SubscribeState delivers the current state at once and then every newer
// one (a slow subscriber skips to the newest). Call cancel when done.
func (m *Manager) SubscribeState() (<-chan *State, func()) { return m.state.Subscribe(true) }

// AwaitRevision waits until the published state was made from settings
// revision rev or a newer one, or until ctx ends, and reports whether it
// got there. The embedded engine then serves the paths of that revision;
// MediaMTX gets them through its API a moment later.
func (m *Manager) AwaitRevision(ctx context.Context, rev int64) bool {
	states, cancel := m.SubscribeState()
	defer cancel()
	for {
		select {
		case st, ok := <-states:
			if !ok {
				return false
			}
			if st.Revision >= rev {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
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
func (m *Manager) Readers(path string) []Reader { return m.State().Readers(path) }

// StatusURLs are the test path's URLs.
type StatusURLs struct {
	RTSP   string `json:"rtsp_url"`
	HLS    string `json:"hls_url"`
	WebRTC string `json:"webrtc_url"`
}

// StatusPorts are the ports the engine uses, with the RTCP port of the
// RTP/RTCP pair spelled out.
type StatusPorts struct {
	model.Ports
	RTCP int `json:"rtcp"`
}

// Status is the engine status payload of GET /engine/status.
type Status struct {
	Running         bool        `json:"running"`
	PID             *int        `json:"pid"`
	UptimeSeconds   *float64    `json:"uptime_seconds"`
	StartedAtUnix   *float64    `json:"started_at_unix"`
	BindHost        string      `json:"bind_host"`
	Ports           StatusPorts `json:"ports"`
	LastError       *string     `json:"last_error"`
	MediaMTXVersion string      `json:"mediamtx_version"`
	LogPath         *string     `json:"log_path"`
	TestPath        string      `json:"test_path"`
	URLs            StatusURLs  `json:"urls"`
	Warnings        []string    `json:"warnings"`
	Kind            string      `json:"kind"`
	RestartCount    int         `json:"restart_count"`
	Generation      uint64      `json:"generation"`
	// TLS says the engine serves RTSPS and HTTPS (the URLs say so too).
	TLS bool `json:"tls"`
	KindInfo
}

// Status reports the engine; host is the host for the test URLs.
func (m *Manager) Status(host string) Status {
	engineSettings := m.Store.Current().Streams.Engine
	s := m.State()
	st := Status{
		Running:         s.Running,
		BindHost:        s.BindHost,
		Ports:           StatusPorts{Ports: s.Ports, RTCP: s.Ports.RTP + 1},
		MediaMTXVersion: engineSettings.MediaMTXVersion,
		TestPath:        model.TestPath,
		Kind:            s.Kind,
		RestartCount:    s.Restarts,
		Generation:      s.Generation,
		TLS:             m.TLS != nil,
		Warnings:        slices.Clone(s.Warnings),
	}
	if st.Warnings == nil {
		st.Warnings = []string{}
	}
	if !s.Running {
		st.Kind = kindOf(engineSettings) // the kind a start would run
	}
	if k, ok := m.Kinds[st.Kind]; ok {
		st.KindInfo = k.Describe()
	}
	if st.OrphanPIDs == nil {
		st.OrphanPIDs = []int{}
	}
	if sup, ok := s.engine.(Supervised); ok {
		st.RestartCount += sup.Restarts()
		if e := sup.LastError(); e != "" && s.LastError == "" {
			st.LastError = &e
		}
	}
	if s.engine != nil {
		pid := s.engine.PID()
		up := time.Since(s.StartedAt).Seconds()
		at := float64(s.StartedAt.UnixMicro()) / 1e6
		st.PID, st.UptimeSeconds, st.StartedAtUnix = &pid, &up, &at
		if lp := s.engine.LogPath(); lp != "" {
			st.LogPath = &lp
		}
	}
	if s.LastError != "" {
		e := s.LastError
		st.LastError = &e
	}
	switch {
	case !engineSettings.Enabled:
		st.Warnings = append(st.Warnings, "Engine is disabled in settings.")
	case !s.Running:
		st.Warnings = append(st.Warnings, "Engine is enabled but not running.")
		if s.LastError != "" {
			st.Warnings = append(st.Warnings, "Last start failed: "+s.LastError)
		}
	}
	st.URLs = StatusURLs{
		RTSP:   model.PlaybackURL(model.ProtocolRTSP, host, s.Ports, model.TestPath, st.TLS),
		HLS:    model.PlaybackURL(model.ProtocolHLS, host, s.Ports, model.TestPath, st.TLS),
		WebRTC: model.PlaybackURL(model.ProtocolWebRTC, host, s.Ports, model.TestPath, st.TLS),
	}
	return st
}
