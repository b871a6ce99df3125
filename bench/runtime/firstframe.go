package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/whep"
)

// The firstframe scenario (-scenario firstframe) is the first-frame part of
// compare alone, WHEP only, with each sample split into its phases (offer →
// answer → connected → first IDR) on both sides, and on ours the service's
// log lines of that sample with their times. It is a diagnostic: it prints,
// it writes no table.
func runFirstFrame(ctx context.Context, o options, bin, tmp string) error {
	ref, svc, stop, err := startSides(ctx, o, bin, tmp)
	if err != nil {
		return err
	}
	defer stop()
	for _, p := range profiles {
		id, urls, err := svc.createOutputs("ff-"+strings.ReplaceAll(p, "_", "-"), outW, outH, latFPS, p, bitrate, protocols)
		if err != nil {
			return err
		}
		w := startWriter(ctx, svc, id, "bench:firstframe", fmt.Sprintf("width=%d&height=%d", outW, outH), latFPS*240.0/241.0, newStampedBGR(outW, outH))
		for run := 1; run <= o.runs; run++ {
			if err := settle(svc, ref); err != nil {
				return err
			}
			began := time.Now()
			took, err := firstFrame(ctx, "webrtc", urls["webrtc"])
			if err != nil {
				return fmt.Errorf("%s ours: %w", p, err)
			}
			for _, l := range svc.logsBetween(began, began.Add(time.Duration(took*1e6))) {
				logf("      +%5.1f ms %s", ms(l.at.Sub(began)), l.text)
			}
			if err := settle(svc, ref); err != nil {
				return err
			}
			if _, err := firstFrame(ctx, "webrtc", ref.url("webrtc", "ondemand")); err != nil {
				return fmt.Errorf("%s MediaMTX: %w", p, err)
			}
		}
		if wr := w.stop(); wr.err != nil {
			return wr.err
		}
	}
	return nil
}

// phases is one WHEP sample's times.
type phases whep.Stats

func (s phases) String() string {
	return fmt.Sprintf("answer %5.1f, connected %5.1f, first IDR %5.1f ms",
		ms(s.Answered.Sub(s.Started)), ms(s.Connected.Sub(s.Started)), ms(s.FirstIDR.Sub(s.Started)))
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// logsBetween returns the service's log lines that arrived in [from, to].
func (s *service) logsBetween(from, to time.Time) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logLine
	for _, l := range s.logs {
		if !l.at.Before(from) && !l.at.After(to) {
			out = append(out, l)
		}
	}
	return out
}
