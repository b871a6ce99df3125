// Package config reads the service's environment and knows the data-dir
// layout. It does no I/O beyond looking up the home directory and reading
// the TLS certificate and key the environment names (LoadTLS).
package config

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Environment variables read at startup.
const (
	EnvListen             = "TOPOSYNC_STREAMING_LISTEN"
	EnvDataDir            = "TOPOSYNC_DATA_DIR"
	EnvRole               = "TOPOSYNC_ROLE"
	EnvProcessingServerID = "TOPOSYNC_PROCESSING_SERVER_ID"

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

// RuntimeDir is where the streaming runtime keeps its files (publish secret,
// logs, engine config) inside the data dir.
func RuntimeDir(dataDir string) string {
	return filepath.Join(dataDir, "runtime", "streaming")
}

// WebRTCAdditionalHosts are the hosts advertised to WebRTC clients besides
// the machine's own addresses: split on ',' and ';', trimmed, duplicates
// (case-insensitive) dropped.
func WebRTCAdditionalHosts(getenv func(string) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, h := range strings.FieldsFunc(getenv(EnvWebRTCAdditionalHosts), func(r rune) bool { return r == ',' || r == ';' }) {
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
