// Package config reads the service's environment and knows the data-dir
// layout. It does no I/O beyond looking up the home directory.
package config

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/toposync/toposync-streaming/internal/model"
)

// Environment variables read at startup.
const (
	EnvListen             = "TOPOSYNC_STREAMING_LISTEN"
	EnvDataDir            = "TOPOSYNC_DATA_DIR"
	EnvRole               = "TOPOSYNC_ROLE"
	EnvProcessingServerID = "TOPOSYNC_PROCESSING_SERVER_ID"
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
