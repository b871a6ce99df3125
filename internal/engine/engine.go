// Package engine defines what a media engine is to the rest of the service
// (the Engine interface every kind implements), and runs one: the Manager
// follows the settings store, resolves ports, derives publish credentials,
// starts, stops and restarts the engine, keeps its paths in step with the
// transmissions, and publishes one State that the bridge and the test
// pattern act on. It never decodes video.
package engine

import (
	"context"
	"slices"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/model"
)

// KindEmbedded is the in-process engine's kind.
const KindEmbedded = model.EngineEmbedded

// Path is one engine path and who may use it.
type Path struct {
	Name string
	// ReadUser and ReadPass, when both set, are required to read the path.
	ReadUser, ReadPass string
	// PublishUser and PublishPass are required to publish (from loopback only).
	PublishUser, PublishPass string
}

// Reader is one viewer session of a path; Type is MediaMTX's name for it
// (rtspSession, hlsSession, webRTCSession).
type Reader struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Since time.Time
}

// DemandEvent says that a path gained its first reader (Demanded) or lost
// its last one.
type DemandEvent struct {
	Path     string
	Demanded bool
}

// RunConfig is everything one engine instance is made for.
type RunConfig struct {
	BindHost   string      // 127.0.0.1, or 0.0.0.0 when exposed to the LAN (readers only)
	Ports      model.Ports // with the RTP port of RTSP over UDP (0: TCP only)
	Paths      []Path
	RuntimeDir string // engine files (config, logs)
	// TLS, when set, makes the engine serve RTSPS (instead of RTSP) on the
	// RTSP port and HTTPS on the HLS and WebRTC ports. Its own API stays
	// plain HTTP on loopback.
	TLS *config.TLS

	ReaderHoldTimeout     time.Duration
	HLSVariant            model.HLSVariant
	ICEServers            []string
	WebRTCAdditionalHosts []string
	WebRTCLocalUDPAddress string
	WebRTCLocalTCPAddress string
}

// Engine is one instance of a media server, made for one RunConfig:
// the service publishes into its paths through sinks (and ffmpeg
// publishers still push RTSP), viewers read them over RTSP, HLS and WHEP. An instance is initialized once and closed once; a restart is a new
// instance. Methods other than Initialize and Close may be called from any
// goroutine and never wait on the network.
type Engine interface {
	// Initialize listens on the config's ports and serves its paths.
	Initialize() error
	// Close ends every session and listener and waits for them.
	Close()
	// SetPaths replaces the served paths without disturbing sessions of
	// paths that stay.
	SetPaths(paths []Path)
	// SetICEServers changes the STUN/TURN servers of new WebRTC sessions.
	SetICEServers(urls []string)
	// SetReaderHold changes how long new readers of an idle path are held.
	SetReaderHold(d time.Duration)
	// SetHLSVariant changes how HLS is served; HLS players reload, other
	// readers are not disturbed.
	SetHLSVariant(v model.HLSVariant)
	// Readers lists the viewers of one path.
	Readers(path string) []Reader
	// Demand delivers demand changes; Close closes it.
	Demand() <-chan DemandEvent
	// PID is the engine's process id (ours for an in-process engine).
	PID() int
	// LogPath is where the engine logs, if it has a file of its own.
	LogPath() string
	// OpenSink makes the service the publisher of path (see VideoSink). A
	// newer sink of the path closes the older one.
	OpenSink(path string) (VideoSink, error)
	// RefuseReaders ends the hold of the readers waiting for path to get a
	// publisher: they are refused now, with reason in the engine's log,
	// instead of at the hold timeout. Readers that arrive later are held
	// again. It does nothing to a path the service publishes.
	RefuseReaders(path, reason string)
}

// Supervised is an engine that runs a process of its own and restarts it
// when it exits unexpectedly.
type Supervised interface {
	// Restarts counts the unexpected exits.
	Restarts() int
	// LastError says why the process last exited, "" when it never did.
	LastError() string
}

// Kind is one kind of engine: it makes instances, can install what its
// instances need without starting one, and describes itself in the engine
// status even when no instance runs.
type Kind interface {
	// New makes an instance (not yet initialized) for cfg.
	New(cfg RunConfig) Engine
	// Install makes the kind's program available (POST /engine/download).
	Install(ctx context.Context) error
	// Describe is what the status reports about the kind.
	Describe() KindInfo
}

// Reclaimer is a kind whose processes can outlive the service (a service
// that was killed leaves them running).
type Reclaimer interface {
	// Reclaim stops the kind's processes started for this data dir that
	// no instance manages, and returns their pids.
	Reclaim() []int
}

// KindInfo is the kind-specific part of the engine status.
type KindInfo struct {
	Platform   string   `json:"platform"`
	BinaryPath *string  `json:"binary_path"` // the installed program; nil when none (or in-process)
	ConfigPath *string  `json:"config_path"`
	OrphanPIDs []int    `json:"orphan_pids"` // stray processes of this kind for this data dir
	Download   Download `json:"download"`
}

// Download is the progress of the kind's program download.
type Download struct {
	Active bool   `json:"active"`
	Done   int64  `json:"bytes_done"`
	Total  int64  `json:"bytes_total"` // -1 when unknown
	Error  string `json:"error,omitempty"`
}

// PathState is one path the engine serves (or would serve when running).
type PathState struct {
	Path
	// PublishURL is where a publisher pushes this path: RTSP (RTSPS when
	// the engine serves TLS) on loopback with the path's credentials. Secret: never log it. Empty while the
	// engine does not run.
	PublishURL string
	// Target is the output published into this path; nil for the built-in
	// test pattern's path.
	Target *model.Target
}

// State is what the manager publishes after every change: the engine as it
// runs now and the paths it serves. Subscribers act on it alone. Treat it as
// read-only.
type State struct {
	// Generation changes on every start, stop and restart of the engine, so
	// a publisher knows its session to the previous instance is gone.
	Generation uint64
	// Revision is the settings revision this state was made from.
	Revision int64
	Kind     string
	Running  bool
	BindHost string
	Ports    model.Ports // actual ports (the preferred ones before a first start)
	// Paths are served in this order: "test" first (its Target is nil
	// unless a transmission took the path over), then every output.
	Paths []PathState
	// Runtime are the arbitration and on-demand windows of the settings
	// this state was made from.
	Runtime model.RuntimeSettings
	// H264Encoder is engine.h264_encoder: the encoder outputs ask for.
	H264Encoder model.H264Encoder

	StartedAt time.Time
	Warnings  []string // port remaps of the last start
	LastError string
	Restarts  int

	engine Engine // the running instance, nil when stopped
}

// Targets are the outputs of the state's paths, in order.
func (s *State) Targets() []model.Target {
	var out []model.Target
	for _, p := range s.Paths {
		if p.Target != nil {
			out = append(out, *p.Target)
		}
	}
	return out
}

// Path finds a path by name.
func (s *State) Path(name string) (PathState, bool) {
	i := slices.IndexFunc(s.Paths, func(p PathState) bool { return p.Name == name })
	if i < 0 {
		return PathState{}, false
	}
	return s.Paths[i], true
}

// TestPatternServed reports whether the built-in test pattern owns the
// "test" path (no transmission hosted here took it over).
func (s *State) TestPatternServed() bool {
	p, ok := s.Path(model.TestPath)
	return ok && p.Target == nil
}

// Readers lists the viewers of path on the running engine.
func (s *State) Readers(path string) []Reader {
	if s.engine == nil {
		return nil
	}
	return s.engine.Readers(path)
}

// RefuseReaders refuses the readers held on path of the running engine
// (see Engine.RefuseReaders).
func (s *State) RefuseReaders(path, reason string) {
	if s.engine != nil {
		s.engine.RefuseReaders(path, reason)
	}
}

// PlatformKey names a platform as the engine status and the MediaMTX
// cache do: "linux-x64", "linux-arm64", "darwin-arm64", ...
func PlatformKey(goos, goarch string) string {
	if goarch == "amd64" {
		goarch = "x64"
	}
	return goos + "-" + goarch
}
