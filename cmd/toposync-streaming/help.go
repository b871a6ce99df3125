package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// variable is one environment variable the service reads, for --help.
type variable struct {
	Name, Meaning, Default string
}

// variables are every environment variable the service reads (a test keeps
// the list complete); flags win over them.
var variables = []variable{
	{config.EnvListen, "API and UI address", config.DefaultListen},
	{config.EnvDataDir, "data dir (settings, runtime files)", "~/.toposync"},
	{config.EnvRole, "\"processing\" for a processing server", "core"},
	{config.EnvProcessingServerID, "this processing server's id", "local"},
	{config.EnvAPIUsername, "Basic username for every API and UI route (with the password)", "none"},
	{config.EnvAPIPassword, "Basic password for every API and UI route", "none"},
	{config.EnvAPIToken, "Bearer token for every API and UI route", "none"},
	{config.EnvAllowedHosts, "host names the API answers to besides IPs, localhost and this machine", "none"},
	{config.EnvSyncUsername, "sync Basic username (core: accepted; processing server: sent)", "none"},
	{config.EnvSyncPassword, "sync Basic password", "none"},
	{config.EnvSyncBearerToken, "sync bearer token (core: accepted; processing server: sent)", "none"},
	{config.EnvSyncCoreURL, "processing server: the core to pull settings from", "none"},
	{config.EnvCoreURL, "processing server: the core, when " + config.EnvSyncCoreURL + " is unset", "none"},
	{config.EnvSyncInterval, "processing server: seconds between settings pulls", "5"},
	{config.EnvSyncTimeout, "processing server: seconds one pull may take", "5"},
	{config.EnvWebRTCAdditionalHosts, "hosts advertised to WebRTC clients (comma-separated)", "none"},
	{config.EnvWebRTCLocalUDPAddress, "one UDP address for all WebRTC peers", "a port per peer"},
	{config.EnvWebRTCLocalTCPAddress, "also accept WebRTC over TCP there", "off"},
	{config.EnvEnginePath, "MediaMTX engine: a preinstalled binary or its directory", "download on demand"},
	{config.EnvEngineCacheDir, "MediaMTX engine: root of the binary cache", "<data dir>/runtime"},
	{config.EnvEngineDownloadBaseURL, "MediaMTX engine: release mirror", "GitHub releases"},
	{config.EnvCameraFilesDir, "the only directory cameras may read files from", "<data dir>/media"},
	{config.EnvTLSCertFile, "PEM certificate: HTTPS, RTSPS (with the key)", "none (no TLS)"},
	{config.EnvTLSKeyFile, "PEM private key of the certificate", "none"},
	{publisher.EnvFFmpegPath, "ffmpeg (a file, or a directory holding ffmpeg)", "ffmpeg on PATH"},
	{publisher.EnvFFmpegLogLevel, "ffmpeg's -loglevel", "warning"},
}

// printVariables writes the environment variables as a table.
func printVariables(w io.Writer) {
	fmt.Fprintln(w, "\nEnvironment (flags win over it):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, v := range variables {
		fmt.Fprintf(tw, "  %s\t%s\t(default: %s)\n", v.Name, v.Meaning, v.Default)
	}
	_ = tw.Flush()
}
