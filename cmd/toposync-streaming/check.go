package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/encoder"
	"github.com/toposync/toposync-streaming/internal/engine/mediamtx"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
	"github.com/toposync/toposync-streaming/internal/store"
)

// checkTimeout bounds the whole check (ffmpeg probes included).
const checkTimeout = 90 * time.Second

// report collects the outcome of each check and prints it as it comes.
type report struct {
	out    io.Writer
	failed int
}

func (r *report) ok(what, detail string)   { fmt.Fprintf(r.out, "ok    %s: %s\n", what, detail) }
func (r *report) warn(what, detail string) { fmt.Fprintf(r.out, "warn  %s: %s\n", what, detail) }
func (r *report) fail(what, detail string) {
	r.failed++
	fmt.Fprintf(r.out, "FAIL  %s: %s\n", what, detail)
}

// check is `toposync-streaming check`: what serve needs, verified before
// running it, with what to fix. Exit 1 when something would stop serve or
// keep it from making video.
func check(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if wantsHelp(args) {
		fs.SetOutput(stdout)
	}
	listen := fs.String("listen", config.Listen(getenv), "API address serve would use (env "+config.EnvListen+")")
	dataDir := fs.String("data-dir", config.DataDir(getenv), "data dir serve would use (env "+config.EnvDataDir+")")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: toposync-streaming check [flags]\n\nChecks ffmpeg and its H.264 encoder, the data dir and settings file, the ports, and the MediaMTX binary when that engine is chosen, and says what to fix. Exit 1 when something must be fixed.\n\nFlags:\n")
		fs.PrintDefaults()
		printVariables(fs.Output())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	r := &report{out: stdout}
	dir := config.ExpandHome(*dataDir)
	settings := checkDataDir(r, dir)
	checkFFmpeg(ctx, r, getenv, settings.Engine.H264Encoder)
	r.ok("JPEG ingest decoder", frame.JPEGDecoder)
	checkListen(r, *listen)
	checkEnginePorts(r, settings.Engine)
	if settings.Engine.Kind == model.EngineMediaMTX {
		checkMediaMTX(ctx, r, getenv, dir, settings.Engine.MediaMTXVersion)
	}
	if r.failed > 0 {
		fmt.Fprintf(stdout, "\n%d problem(s) to fix before serve works fully.\n", r.failed)
		return 1
	}
	fmt.Fprintln(stdout, "\nReady: run toposync-streaming serve.")
	return 0
}

// checkDataDir checks that the data dir can be written and the settings
// file loads; it returns the settings (the defaults without a file).
func checkDataDir(r *report, dir string) model.Settings {
	settings := model.DefaultSettings()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.fail("data dir", fmt.Sprintf("%s cannot be created: %v (choose another with --data-dir or %s)", dir, err, config.EnvDataDir))
		return settings
	}
	probe, err := os.CreateTemp(dir, ".check-*")
	if err != nil {
		r.fail("data dir", fmt.Sprintf("%s is not writable: %v (fix its permissions or choose another with --data-dir)", dir, err))
		return settings
	}
	probe.Close()
	_ = os.Remove(probe.Name())
	r.ok("data dir", dir)
	doc, err := store.Load(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.ok("settings", "no settings file yet: serve creates "+filepath.Join(dir, store.FileName))
	case err != nil:
		r.fail("settings", err.Error())
	default:
		settings = doc.Streams
		r.ok("settings", fmt.Sprintf("%s (revision %d, %d transmissions, %d cameras, %d pipelines)", filepath.Join(dir, store.FileName), doc.Revision, len(doc.Streams.Transmissions), len(doc.Cameras), len(doc.Pipelines)))
	}
	return settings
}

func checkFFmpeg(ctx context.Context, r *report, getenv func(string) string, requested model.H264Encoder) {
	bin, err := publisher.FindFFmpeg(getenv)
	if err != nil {
		r.fail("ffmpeg", err.Error())
		return
	}
	version, err := exec.CommandContext(ctx, bin, "-hide_banner", "-version").Output()
	if err != nil {
		r.fail("ffmpeg", fmt.Sprintf("%s does not run: %v (reinstall it: apt-get install ffmpeg)", bin, err))
		return
	}
	first, _, _ := strings.Cut(string(version), "\n")
	r.ok("ffmpeg", bin+" ("+strings.TrimSpace(first)+")")
	var p encoder.Prober
	sel, err := p.Select(ctx, bin, requested)
	switch {
	case err != nil:
		r.fail("H.264 encoder", err.Error())
	case sel.Warning != "" && (sel.Requested == "" || sel.Requested == model.H264EncoderAuto):
		r.ok("H.264 encoder", fmt.Sprintf("%s (auto: no hardware encoder works here)", sel.Codec))
	case sel.Warning != "":
		r.warn("H.264 encoder", fmt.Sprintf("%s runs (asked for %s): %s", sel.Codec, sel.Requested, sel.Warning))
	default:
		r.ok("H.264 encoder", fmt.Sprintf("%s (hardware accelerated: %v)", sel.Codec, sel.Hardware))
	}
}

func checkListen(r *report, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.fail("API address", fmt.Sprintf("%s: %v (is the service already running? stop it, or choose another --listen)", addr, err))
		return
	}
	ln.Close()
	r.ok("API address", addr+" is free")
}

// checkEnginePorts reports preferred engine ports that are taken: the
// engine then moves to others (a warning, not a failure).
func checkEnginePorts(r *report, e model.EngineSettings) {
	host := "127.0.0.1"
	if e.ExposeToLAN {
		host = "0.0.0.0"
	}
	p := e.PreferredPorts
	var taken []string
	for _, port := range []struct {
		name string
		n    int
	}{{"rtsp", p.RTSP}, {"hls", p.HLS}, {"webrtc", p.WebRTC}, {"api", p.API}} {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port.n)))
		if err != nil {
			taken = append(taken, fmt.Sprintf("%s %d", port.name, port.n))
			continue
		}
		ln.Close()
	}
	for _, n := range []int{p.RTP, p.RTP + 1} {
		if n <= 0 {
			continue
		}
		c, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(n)))
		if err != nil {
			taken = append(taken, fmt.Sprintf("udp %d", n))
			continue
		}
		c.Close()
	}
	if len(taken) > 0 {
		r.warn("engine ports", "taken on "+host+": "+strings.Join(taken, ", ")+" (the engine moves to free ones and says so; free them or change engine.preferred_ports to keep the URLs)")
		return
	}
	r.ok("engine ports", fmt.Sprintf("rtsp %d, hls %d, webrtc %d, api %d, rtp/rtcp %d/%d free on %s", p.RTSP, p.HLS, p.WebRTC, p.API, p.RTP, p.RTP+1, host))
}

func checkMediaMTX(ctx context.Context, r *report, getenv func(string) string, dataDir, version string) {
	in := &mediamtx.Installer{Version: version, DataRuntimeDir: filepath.Join(dataDir, "runtime"), Getenv: getenv}
	bin, err := in.Resolve(ctx)
	switch {
	case errors.Is(err, mediamtx.ErrNotInstalled):
		r.warn("MediaMTX "+version, "not installed yet: the engine downloads and verifies it on first start (or POST /api/streams/engine/download; set "+config.EnvEnginePath+" to use a preinstalled one)")
	case err != nil:
		r.fail("MediaMTX "+version, err.Error())
	default:
		r.ok("MediaMTX "+version, bin)
	}
}
