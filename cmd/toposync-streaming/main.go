// Command toposync-streaming turns the output of video-analytics pipelines
// into live RTSP, HLS and WebRTC streams.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/toposync/toposync-streaming/internal/app"
	"github.com/toposync/toposync-streaming/internal/config"
	"github.com/toposync/toposync-streaming/internal/engine/mediamtx"
	"github.com/toposync/toposync-streaming/internal/frame"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `toposync-streaming turns pipeline output into live RTSP, HLS and WebRTC streams.

Usage:
  toposync-streaming serve [flags]   run the service
  toposync-streaming check [flags]   check ffmpeg, the data dir, the ports and the engine binary
  toposync-streaming version         print the version

Run "toposync-streaming serve -h" for the flags of serve.
`

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "toposync-streaming %s\n", version)
		return 0
	case "serve":
		return serve(args[1:], getenv, stdout, stderr)
	case "check":
		return check(args[1:], getenv, stdout, stderr)
	case mediamtx.HookCommand: // run by MediaMTX's runOnDemand, not by users
		return mediamtx.RunHook(args[1:], getenv, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		printVariables(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func serve(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if wantsHelp(args) {
		fs.SetOutput(stdout) // asked for: the help is the answer, not an error
	}
	listen := fs.String("listen", config.Listen(getenv), "API address (env "+config.EnvListen+")")
	dataDir := fs.String("data-dir", config.DataDir(getenv), "where settings and runtime files live (env "+config.EnvDataDir+")")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	demo := fs.Bool("demo", false, "create a demo (test-scene camera, transmission, two pipelines) when absent, start the engine, print where to watch")
	insecure := fs.Bool("insecure-no-api-auth", false, "serve the API and UI without credentials on a non-loopback address (a warning is logged at every start)")
	logFormat := fs.String("log-format", "text", "text or json")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, "Usage: toposync-streaming serve [flags]\n\nRuns the service: the API and UI, the streaming engine, the pipelines.\n\nFlags:\n")
		fs.PrintDefaults()
		printVariables(out)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "invalid --log-level %q: use debug, info, warn or error\n", *logLevel)
		return 2
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		fmt.Fprintf(stderr, "invalid --log-format %q: use text or json\n", *logFormat)
		return 2
	}
	log := slog.New(handler)

	serverID, warning := config.ServerID(getenv)
	if warning != "" {
		log.Warn(warning)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("starting toposync-streaming", "version", version, "jpeg_decoder", frame.JPEGDecoder)
	err := app.Run(ctx, app.Config{Listen: *listen, DataDir: config.ExpandHome(*dataDir), ServerID: serverID, Getenv: getenv, Logger: log, Demo: *demo, Out: stdout, InsecureNoAPIAuth: *insecure})
	if err != nil {
		log.Error("service stopped with an error", "err", err)
		return 1
	}
	return 0
}

// wantsHelp reports whether a subcommand's arguments ask for its help.
func wantsHelp(args []string) bool {
	return slices.Contains(args, "-h") || slices.Contains(args, "--help") || slices.Contains(args, "-help")
}
