package encoder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// Selection is which encoder runs for a requested one.
type Selection struct {
	Requested model.H264Encoder `json:"requested"`
	Codec     model.H264Encoder `json:"codec"` // what really runs
	Hardware  bool              `json:"hardware_accelerated"`
	// Warning says why the request was not met (empty when it was), for
	// diagnostics and the UI.
	Warning string `json:"warning,omitempty"`
}

// autoOrder is the order auto tries hardware encoders in.
var autoOrder = []model.H264Encoder{model.H264EncoderNVENC, model.H264EncoderQSV, model.H264EncoderVAAPI}

// DefaultProbeTimeout bounds one ffmpeg run of a probe.
const DefaultProbeTimeout = 20 * time.Second

// Prober finds out, once per ffmpeg binary and encoder, whether the
// encoder works here: ffmpeg lists it (-encoders) and a one-frame test
// encode with the options of every latency profile succeeds. Results are
// kept for the Prober's life; concurrent callers of one probe wait for the
// same run. The zero value is ready to use.
type Prober struct {
	Timeout time.Duration // per ffmpeg run; 0: DefaultProbeTimeout
	// VAAPIDevice is the render node h264_vaapi is probed (and run) with.
	VAAPIDevice string

	mu      sync.Mutex
	results map[probeKey]*probeResult
	warned  map[string]bool // Selection warnings already logged
}

// firstWarning reports whether this Prober sees the warning w for the first
// time, so that a fallback is logged once rather than at every encoder start.
func (p *Prober) firstWarning(w string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.warned[w] {
		return false
	}
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	p.warned[w] = true
	return true
}

type probeKey struct {
	binary string
	codec  model.H264Encoder // "" for the binary's encoder list
}

type probeResult struct {
	done  chan struct{}
	err   error
	names map[string]bool // the encoder list
}

// Select resolves a requested encoder (empty means auto) for binary. A
// hardware encoder that fails its probe falls back to libx264 with a
// Warning; auto takes the first hardware encoder that passes, else libx264.
// It fails only when libx264 does not work either.
func (p *Prober) Select(ctx context.Context, binary string, requested model.H264Encoder) (Selection, error) {
	if requested == "" {
		requested = model.H264EncoderAuto
	}
	sel := Selection{Requested: requested}
	var candidates []model.H264Encoder
	switch {
	case requested == model.H264EncoderAuto:
		candidates = autoOrder
	case requested == model.H264EncoderLibx264:
	case Hardware(requested):
		candidates = []model.H264Encoder{requested}
	default:
		return sel, fmt.Errorf("unknown H.264 encoder %q: use one of %v", requested, model.H264Encoders)
	}
	var failures []string
	for _, c := range candidates {
		err := p.probe(ctx, binary, c)
		if err == nil {
			sel.Codec, sel.Hardware = c, true
			return sel, nil
		}
		if ctx.Err() != nil {
			return sel, ctx.Err()
		}
		failures = append(failures, string(c)+": "+err.Error())
	}
	if err := p.probe(ctx, binary, model.H264EncoderLibx264); err != nil {
		return sel, fmt.Errorf("no usable H.264 encoder: libx264: %w (install an ffmpeg built with libx264, or point %s to one)", err, publisher.EnvFFmpegPath)
	}
	sel.Codec = model.H264EncoderLibx264
	switch {
	case requested == model.H264EncoderAuto:
		sel.Warning = "no hardware H.264 encoder works here (" + strings.Join(failures, "; ") + "); using libx264"
	case len(failures) > 0:
		sel.Warning = failures[0] + "; using libx264 instead"
	}
	return sel, nil
}

// probe runs (once) the test of one encoder of binary.
func (p *Prober) probe(ctx context.Context, binary string, c model.H264Encoder) error {
	names, err := p.once(ctx, probeKey{binary: binary}, func(ctx context.Context) (map[string]bool, error) {
		return listEncoders(ctx, binary)
	})
	if err != nil {
		return err
	}
	if !names[string(c)] {
		return errors.New("not in this ffmpeg's encoder list")
	}
	_, err = p.once(ctx, probeKey{binary, c}, func(ctx context.Context) (map[string]bool, error) {
		params := Params{Codec: c, Width: 256, Height: 144, FPS: 30, BitrateKbps: 500, LogLevel: "error", VAAPIDevice: p.VAAPIDevice}
		return nil, run(ctx, binary, params.probeArgs(Profiles...))
	})
	return err
}

// once runs fn for key unless it ran already, without holding the lock
// while it runs.
func (p *Prober) once(ctx context.Context, key probeKey, fn func(context.Context) (map[string]bool, error)) (map[string]bool, error) {
	p.mu.Lock()
	if p.results == nil {
		p.results = map[probeKey]*probeResult{}
	}
	r, ran := p.results[key]
	if !ran {
		r = &probeResult{done: make(chan struct{})}
		p.results[key] = r
	}
	p.mu.Unlock()
	if !ran {
		timeout := p.Timeout
		if timeout <= 0 {
			timeout = DefaultProbeTimeout
		}
		// The result is shared, so one caller's cancellation must not
		// become everyone's answer: the run gets its own deadline.
		runCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		r.names, r.err = fn(runCtx)
		cancel()
		close(r.done)
	}
	select {
	case <-r.done:
		return r.names, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func listEncoders(ctx context.Context, binary string) (map[string]bool, error) {
	list := exec.CommandContext(ctx, binary, "-hide_banner", "-encoders")
	list.Env = publisher.ChildEnv(os.Environ())
	out, err := list.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -encoders: %w", binary, err)
	}
	// Lines look like " V....D libx264   libx264 H.264 / AVC ...", after
	// a legend that ends with " ------".
	names := map[string]bool{}
	lines := bufio.NewScanner(bytes.NewReader(out))
	listing := false
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		switch {
		case len(fields) >= 2 && listing:
			names[fields[1]] = true
		case len(fields) == 1 && strings.HasPrefix(fields[0], "---"):
			listing = true
		}
	}
	return names, nil
}

// logAddress is the object address in ffmpeg's log prefix ("[h264_nvenc @ 0x5581]").
var logAddress = regexp.MustCompile(` @ 0x[0-9a-f]+\]`)

// run runs ffmpeg and turns a failure into its first stderr line: the
// first complaint names the cause ("Cannot load libcuda.so.1"), the later
// ones its consequences.
func run(ctx context.Context, binary string, args []string) error {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = publisher.ChildEnv(os.Environ())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("test encode timed out: %w", ctx.Err())
		}
		first, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return fmt.Errorf("test encode failed (%w): %s", err, logAddress.ReplaceAllString(strings.TrimSpace(first), "]"))
	}
	return nil
}
