package vision

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/toposync/toposync-streaming/internal/pipeline"
)

const (
	trackType   = "vision.track"
	trackMethod = "iou_tracker_on_motion_background_subtraction"
	// minIoU is the overlap under which a detection does not continue a
	// track.
	minIoU = 0.1
	// maxPredict bounds how far ahead (seconds) a track's box is predicted.
	maxPredict = 1.0
	// trackMinScore is the score the tracker's own detector keeps.
	trackMinScore = 0.55
)

func init() {
	pipeline.Register(pipeline.Info{Type: trackType, Inputs: 1, Outputs: 1, Factory: newTrack})
}

type trackConfig struct {
	TrackerID         string  `json:"tracker_id"`
	CloseAfterSeconds float64 `json:"close_after_seconds"`
	EmitMode          string  `json:"emit_mode"`
}

// Track is vision.track: an IoU tracker giving stable ids to the moving
// objects (see the package documentation).
type Track struct {
	cfg        trackConfig
	closeAfter time.Duration
	pipeline   string
	det        Detector
	tracks     []*track
	nextID     int
	events     eventState
	stats      stats
	// Cached counts how many frames used vision.detect's boxes from the
	// cache instead of the own detector (for tests).
	cached int
}

type track struct {
	id     int
	box    Box
	vx, vy float64 // smoothed velocity of the box, pixels per second
	last   time.Time
	seen   bool // matched in the current frame
}

func newTrack(raw json.RawMessage, env pipeline.Env) (any, error) {
	cfg := trackConfig{CloseAfterSeconds: 5, EmitMode: modeAnnotate}
	if err := decode(trackType, raw, &cfg); err != nil {
		return nil, err
	}
	if err := checkRange(trackType, "close_after_seconds", cfg.CloseAfterSeconds, 0, 600); err != nil {
		return nil, err
	}
	if err := checkMode(trackType, cfg.EmitMode); err != nil {
		return nil, err
	}
	t := newTrackWith(cfg, env.Pipeline, NewMotionDetector(trackMinScore))
	logger(env).Info("no model in this build: tracks follow motion blobs (background subtraction) with an IoU tracker; tracker_id is ignored",
		"type", trackType, "method", trackMethod, "tracker_id", cfg.TrackerID,
		"close_after_seconds", cfg.CloseAfterSeconds, "emit_mode", cfg.EmitMode)
	return t, nil
}

// newTrackWith builds the operator around any Detector (used when no
// vision.detect upstream left its boxes in the cache).
func newTrackWith(cfg trackConfig, pipelineName string, det Detector) *Track {
	t := &Track{cfg: cfg, closeAfter: time.Duration(cfg.CloseAfterSeconds * float64(time.Second)), pipeline: pipelineName, det: det, nextID: 1}
	t.stats.st = Status{Type: trackType, Method: trackMethod, Ignored: "tracker_id", ModelID: cfg.TrackerID}
	return t
}

// Status reports the operator's state; Objects is the number of live tracks.
func (t *Track) Status() Status { return t.stats.snapshot() }

// Process implements pipeline.Operator.
func (t *Track) Process(_ context.Context, p *pipeline.Packet, emit func(*pipeline.Packet)) {
	events := t.cfg.EmitMode == modeEvents
	if events && p.Lifecycle == pipeline.Close {
		// Upstream ended its event: no frames will come for a while, so
		// the tracks cannot be followed; end ours.
		t.tracks = t.tracks[:0]
		if lc, ok := t.events.next(false); ok {
			out := relabel(p, lc)
			if src := sourceFrame(p); src != nil {
				out.Artifacts[artFrame] = src
				out.Artifacts[artOriginal] = src
			}
			emit(out)
			t.stats.frameDone(0, false, 1)
		}
		return
	}
	src := sourceFrame(p)
	if src == nil {
		if !events {
			emit(p)
		}
		return
	}
	boxes, ok := detections.get(t.pipeline, src)
	if ok {
		t.cached++
	} else {
		boxes = t.det.Detect(src)
	}
	t.update(boxes, p.Time)
	lc := p.Lifecycle
	if events {
		var ok bool
		if lc, ok = t.events.next(len(t.tracks) > 0); !ok {
			t.stats.frameDone(0, false, 0)
			return
		}
	}
	ann := cloneFrame(src)
	for _, tr := range t.tracks {
		if tr.seen {
			drawTrack(ann, tr.box, tr.id, colourFor(tr.id))
		}
	}
	out := relabel(p, lc)
	out.Artifacts[artFrame] = ann
	out.Artifacts[artOriginal] = src
	emit(out)
	t.stats.frameDone(len(t.tracks), t.events.open, 1)
}

// update matches boxes to the tracks at time now, starts tracks for the
// unmatched boxes and drops tracks unseen for longer than closeAfter.
func (t *Track) update(boxes []Box, now time.Time) {
	type pair struct {
		ti, bi int
		iou    float64
	}
	var pairs []pair
	predicted := make([]Box, len(t.tracks))
	for i, tr := range t.tracks {
		tr.seen = false
		if now.Before(tr.last) {
			tr.last = now // the clock went back: count unseen time from now
		}
		dt := min(max(now.Sub(tr.last).Seconds(), 0), maxPredict)
		b := tr.box
		b.X += int(tr.vx * dt)
		b.Y += int(tr.vy * dt)
		predicted[i] = b
		for j, box := range boxes {
			if v := iou(b, box); v >= minIoU {
				pairs = append(pairs, pair{i, j, v})
			}
		}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].iou > pairs[b].iou })
	usedBox := make([]bool, len(boxes))
	for _, pr := range pairs {
		tr := t.tracks[pr.ti]
		if tr.seen || usedBox[pr.bi] {
			continue
		}
		usedBox[pr.bi] = true
		tr.seen = true
		nb := boxes[pr.bi]
		if dt := now.Sub(tr.last).Seconds(); dt > 0 {
			cx := float64(nb.X-tr.box.X) + float64(nb.W-tr.box.W)/2
			cy := float64(nb.Y-tr.box.Y) + float64(nb.H-tr.box.H)/2
			tr.vx = 0.5*tr.vx + 0.5*cx/dt
			tr.vy = 0.5*tr.vy + 0.5*cy/dt
		}
		tr.box = nb
		tr.last = now
	}
	for j, box := range boxes {
		if usedBox[j] {
			continue
		}
		t.tracks = append(t.tracks, &track{id: t.nextID, box: box, last: now, seen: true})
		t.nextID++
	}
	kept := t.tracks[:0]
	for _, tr := range t.tracks {
		if tr.seen || now.Sub(tr.last) <= t.closeAfter {
			kept = append(kept, tr)
		}
	}
	clear(t.tracks[len(kept):])
	t.tracks = kept
}

// iou is the intersection over union of a and b.
func iou(a, b Box) float64 {
	x0, y0 := max(a.X, b.X), max(a.Y, b.Y)
	x1, y1 := min(a.X+a.W, b.X+b.W), min(a.Y+a.H, b.Y+b.H)
	if x1 <= x0 || y1 <= y0 {
		return 0
	}
	inter := float64((x1 - x0) * (y1 - y0))
	union := float64(a.W*a.H+b.W*b.H) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
