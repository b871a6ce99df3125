// Package config reads the service's environment and knows the data-dir
// layout. It does no I/O beyond looking up the home directory and reading
// the TLS certificate and key the environment names (LoadTLS).
package config

import (
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Environment variables read at startup.
const (
	EnvListen             = "TOPOSYNC_STREAMING_LISTEN"
	EnvDataDir            = "TOPOSYNC_DATA_DIR"
	EnvRole               = "TOPOSYNC_ROLE"
	EnvProcessingServerID = "TOPOSYNC_PROCESSING_SERVER_ID"

	// API credentials: Basic (username and password) and/or a Bearer
	// token protect every API and UI route. Host names (besides loopback
	// names, IP literals and this machine's name) the API answers to.
	EnvAPIUsername  = "TOPOSYNC_STREAMING_API_USERNAME"
	EnvAPIPassword  = "TOPOSYNC_STREAMING_API_PASSWORD"
	EnvAPIToken     = "TOPOSYNC_STREAMING_API_TOKEN"
	EnvAllowedHosts = "TOPOSYNC_STREAMING_ALLOWED_HOSTS"

	// Credentials a processing server presents to GET /distributed/settings.
	EnvSyncUsername = "TOPOSYNC_STREAMING_SYNC_USERNAME"
	EnvSyncPassword = "TOPOSYNC_STREAMING_SYNC_PASSWORD"

	// Settings sync on a processing server: where the core is, how to
	// authenticate (a bearer token wins over the username and password),
	// how often to pull and how long one pull may take (seconds).
	EnvSyncCoreURL     = "TOPOSYNC_STREAMING_SYNC_CORE_URL"
	EnvCoreURL         = "TOPOSYNC_CORE_URL"
	EnvSyncBearerToken = "TOPOSYNC_STREAMING_SYNC_BEARER_TOKEN"
	EnvSyncInterval    = "TOPOSYNC_STREAMING_SYNC_INTERVAL_SECONDS"
	EnvSyncTimeout     = "TOPOSYNC_STREAMING_SYNC_TIMEOUT_SECONDS"

	EnvWebRTCAdditionalHosts = "TOPOSYNC_STREAMING_WEBRTC_ADDITIONAL_HOSTS"
	EnvWebRTCLocalUDPAddress = "TOPOSYNC_STREAMING_WEBRTC_LOCAL_UDP_ADDRESS"
	EnvWebRTCLocalTCPAddress = "TOPOSYNC_STREAMING_WEBRTC_LOCAL_TCP_ADDRESS"

	// The MediaMTX engine's binary: a binary (or a directory holding
	// mediamtx) to use instead of a download, the download cache's root
	// (default <data dir>/runtime), and the release mirror to download from.
	EnvEnginePath            = "TOPOSYNC_STREAMING_ENGINE_PATH"
	EnvEngineCacheDir        = "TOPOSYNC_STREAMING_ENGINE_CACHE_DIR"
	EnvEngineDownloadBaseURL = "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL"

	// The only directory cameras may read local video files from
	// (default <data dir>/media).
	EnvCameraFilesDir = "TOPOSYNC_STREAMING_CAMERA_FILES_DIR"
)

// DefaultListen is where the API listens unless told otherwise.
const DefaultListen = "127.0.0.1:8100"

// Listen is the API address: the environment's, else the default.
func Listen(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv(EnvListen)); v != "" {
		return v
	}
	return DefaultListen
}

// DataDir is the data dir: the environment's, else ~/.toposync. A leading
// "~/" is expanded.
func DataDir(getenv func(string) string) string {
	if v := strings.TrimSpace(getenv(EnvDataDir)); v != "" {
		return ExpandHome(v)
	}
	return ExpandHome("~/.toposync")
}

// ExpandHome replaces a leading "~" with the user's home directory.
func ExpandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}

// ServerID is this server's id: "local" on the core; with
// TOPOSYNC_ROLE=processing the normalised TOPOSYNC_PROCESSING_SERVER_ID.
// The second result explains a fallback to "local" worth a warning.
func ServerID(getenv func(string) string) (id string, warning string) {
	if !strings.EqualFold(strings.TrimSpace(getenv(EnvRole)), "processing") {
		return model.LocalHost, ""
	}
	id = model.NormalizeHostID(getenv(EnvProcessingServerID))
	if id == model.LocalHost {
		return id, EnvRole + "=processing but " + EnvProcessingServerID + " is not set; acting as server 'local'"
	}
	return id, ""
}

// CameraFilesDir is the directory camera files must be in: the
// environment's (a leading "~/" expanded, made absolute), else
// <data dir>/media.
func CameraFilesDir(getenv func(string) string, dataDir string) string {
	dir := filepath.Join(dataDir, "media")
	if v := strings.TrimSpace(getenv(EnvCameraFilesDir)); v != "" {
		dir = ExpandHome(v)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// RuntimeDir is where the streaming runtime keeps its files (publish secret,
// logs, engine config) inside the data dir.
func RuntimeDir(dataDir string) string {
	return filepath.Join(dataDir, "runtime", "streaming")
}

// WebRTCAdditionalHosts are the hosts advertised to WebRTC clients besides
// the machine's own addresses (see HostList).
func WebRTCAdditionalHosts(getenv func(string) string) []string {
	return HostList(getenv(EnvWebRTCAdditionalHosts))
}

// AllowedHosts are the host names the API answers to besides loopback
// names, IP literals and this machine's name (see HostList).
func AllowedHosts(getenv func(string) string) []string {
	return HostList(getenv(EnvAllowedHosts))
}

// HostList splits a list of hosts on ',', ';' and white space, trimmed,
// duplicates (case-insensitive) dropped.
func HostList(v string) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
		h = strings.TrimSpace(h)
		if h == "" || seen[strings.ToLower(h)] {
			continue
		}
		seen[strings.ToLower(h)] = true
		out = append(out, h)
	}
	return out
}

// SyncCoreURL is the core a processing server pulls its settings from:
// TOPOSYNC_STREAMING_SYNC_CORE_URL, else TOPOSYNC_CORE_URL, without a
// trailing slash; "" when neither is set.
func SyncCoreURL(getenv func(string) string) string {
	for _, key := range []string{EnvSyncCoreURL, EnvCoreURL} {
		if v := strings.TrimRight(strings.TrimSpace(getenv(key)), "/"); v != "" {
			return v
		}
	}
	return ""
}

// DefaultSyncSeconds is the default sync interval and timeout.
const DefaultSyncSeconds = 5

// SyncSeconds reads a duration in seconds from key: the default when unset
// or unparsable, at least one second.
func SyncSeconds(getenv func(string) string, key string) time.Duration {
	v, err := strconv.ParseFloat(strings.TrimSpace(getenv(key)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		v = DefaultSyncSeconds
	}
	v = max(v, 1)
	v = min(v, 24*3600)
	return time.Duration(v * float64(time.Second))
}

// IsLoopbackListen reports whether a listen address only reaches this
// machine: localhost or a loopback IP. An empty host, 0.0.0.0, :: and any
// other name or address reach the network.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
