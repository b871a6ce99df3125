// Package engine defines what a media engine is to the rest of the service
// (the Engine interface both the embedded server and MediaMTX implement), and
// runs one: the Manager resolves ports, derives publish credentials, starts,
// stops and restarts the engine as settings say, keeps its path list in step
// with the transmissions, and reports status. It never decodes video.
package engine

import (
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
)

// KindEmbedded is the in-process engine's kind.
const KindEmbedded = "embedded"

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

// RunConfig is everything an engine is started with.
type RunConfig struct {
	BindHost   string // 127.0.0.1, or 0.0.0.0 when exposed to the LAN (readers only)
	Ports      model.Ports
	RTPPort    int // RTSP over UDP: RTP port (even); RTCP is RTPPort+1
	Paths      []Path
	RuntimeDir string // engine files (config, logs)

	ReaderHoldTimeout     time.Duration
	ICEServers            []string
	WebRTCAdditionalHosts []string
	WebRTCLocalUDPAddress string
	WebRTCLocalTCPAddress string
}

// Engine is a media server: publishers push RTSP into its paths, viewers
// read them over RTSP, HLS and WHEP.
type Engine interface {
	// Start listens on cfg's ports and serves cfg's paths.
	Start(cfg RunConfig) error
	// Stop closes every session and listener.
	Stop() error
	// SetPaths replaces the served paths without disturbing sessions of
	// paths that stay.
	SetPaths(paths []Path)
	// Readers lists the viewers of one path.
	Readers(path string) []Reader
	// Demand delivers demand changes. The channel lives as long as the
	// engine value, across restarts.
	Demand() <-chan DemandEvent
	// PID is the engine's process id (ours for an in-process engine).
	PID() int
	// LogPath is where the engine logs, if it has a file of its own.
	LogPath() string
}
