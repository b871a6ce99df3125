package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/bench/internal/readers"
	table "github.com/toposync/toposync-streaming/bench/internal/report"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// scaleRound runs the scale load once on each engine kind of the product
// (embedded, then MediaMTX as the service runs it): -scale-transmissions
// transmissions, each with an RTSP and a WebRTC output of the same
// encoding, a writer at 15 fps and 2 readers on each output.
func scaleRound(ctx context.Context, o options, bin, dir string, t *table.Table) error {
	if o.scaleTx <= 0 {
		return nil
	}
	mirror, err := filepath.Abs(o.mirror)
	if err != nil {
		return err
	}
	env := []string{"TOPOSYNC_STREAMING_ENGINE_CACHE_DIR=" + filepath.Join(filepath.Dir(dir), "engine-cache")}
	if os.Getenv("TOPOSYNC_STREAMING_ENGINE_PATH") == "" {
		env = append(env, "TOPOSYNC_STREAMING_ENGINE_DOWNLOAD_BASE_URL=file://"+mirror)
	}
	for _, k := range []struct{ kind, side string }{{"embedded", ours}, {"mediamtx", theirs}} {
		if err := scaleOnce(ctx, o, bin, filepath.Join(dir, k.kind), env, k.kind, k.side, t); err != nil {
			return fmt.Errorf("%s: %w", k.kind, err)
		}
	}
	return nil
}

func scaleOnce(ctx context.Context, o options, bin, dir string, env []string, kind, side string, t *table.Table) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	svc, err := startServiceEnv(bin, filepath.Join(dir, "data"), filepath.Join(dir, "service.log"), env)
	if err != nil {
		return err
	}
	defer svc.stop()
	if _, err := svc.enableEngineKind(kind, 0.5); err != nil {
		return err
	}
	w, h, err := parseSize(o.scaleSize)
	if err != nil {
		return err
	}
	const fps = 15
	var rtspRs []*readers.RTSP
	var sessions []*whep.Session
	var writers []*streamWriter
	defer func() {
		for _, r := range rtspRs {
			r.Close()
		}
		for _, s := range sessions {
			_ = s.Close()
		}
		for _, wr := range writers {
			wr.stop()
		}
	}()
	for i := range o.scaleTx {
		id, urls, err := svc.createOutputs(fmt.Sprintf("scale-%d", i), w, h, fps, o.scaleProfile, 1000, []string{"rtsp", "webrtc"})
		if err != nil {
			return err
		}
		writers = append(writers, startWriter(ctx, svc, id, "bench:scale", fmt.Sprintf("width=%d&height=%d", w, h), fps, newStampedBGR(w, h)))
		for range 2 {
			// A new transmission's paths reach MediaMTX through its API a
			// moment after the answer: until then readers are refused.
			var r *readers.RTSP
			if err := retrying(10*time.Second, func() (err error) { r, err = readers.DialRTSP(urls["rtsp"], nil); return err }); err != nil {
				return fmt.Errorf("RTSP reader: %w", err)
			}
			rtspRs = append(rtspRs, r)
			var s *whep.Session
			if err := retrying(20*time.Second, func() error {
				dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				var err error
				s, err = whep.Dial(dctx, urls["webrtc"], "", "")
				return err
			}); err != nil {
				return fmt.Errorf("WHEP reader: %w", err)
			}
			sessions = append(sessions, s)
		}
	}
	for _, r := range rtspRs {
		select {
		case <-r.IDR():
		case <-time.After(30 * time.Second):
			return errors.New("an RTSP scale reader got no frame in 30 s")
		}
	}
	for _, s := range sessions {
		select {
		case <-s.FirstIDR():
		case <-time.After(30 * time.Second):
			return errors.New("a WHEP scale reader got no frame in 30 s")
		}
	}
	time.Sleep(2 * time.Second) // settle
	dropped := func() (sent, drop uint64) {
		outs, _ := svc.outputs()
		for _, o := range outs {
			sent += o.FramesSent
			drop += o.FramesDropped
		}
		return
	}
	sent0, drop0 := dropped()
	pids := descendants(svc.pid)
	cpu0, start := treeCPU(pids), time.Now()
	maxRSS := 0.0
	for end := start.Add(o.cpuWindow); time.Now().Before(end); time.Sleep(time.Second) {
		rss := 0.0
		for _, p := range pids {
			rss += procRSS(p)
		}
		maxRSS = max(maxRSS, rss)
	}
	cpu := 100 * float64(treeCPU(pids)-cpu0) / float64(time.Since(start))
	sent1, drop1 := dropped()
	load := fmt.Sprintf("%d transmissions x (RTSP + WebRTC output), %dx%d %s, writers %d fps, 2 readers per output", o.scaleTx, w, h, o.scaleProfile, fps)
	t.Add(side, "scale: CPU, service + encoders + engine, "+load, "% of one core", "", cpu)
	t.Add(side, "scale: RSS (max of 1 s samples), service + encoders + engine", "MiB", "", maxRSS)
	t.Add(side, "scale: frames dropped by the publishers in the window", "count", "", float64(drop1-drop0))
	t.Add(side, "scale: frames sent by the publishers in the window", "count", "", float64(sent1-sent0))
	logf("scale %s: CPU %.0f%%, RSS %.0f MiB, %d processes, dropped %d of %d", kind, cpu, maxRSS, len(pids), drop1-drop0, sent1-sent0)
	return nil
}

func parseSize(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "x")
	w, errW := strconv.Atoi(a)
	h, errH := strconv.Atoi(b)
	if !ok || errW != nil || errH != nil || w <= 0 || h <= 0 {
		return 0, 0, fmt.Errorf("size %q: want WIDTHxHEIGHT", s)
	}
	return w, h, nil
}

// retrying calls dial until it succeeds or within has passed, and returns
// its last error.
func retrying(within time.Duration, dial func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := dial()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
