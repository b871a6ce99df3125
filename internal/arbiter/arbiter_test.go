package arbiter

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/camerahub"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// clock is a manual clock for deterministic tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTest(mode model.Arbitration) (*Arbiter, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := New(DefaultConfig(), c.now, nil)
	a.SetMode("t", mode)
	return a, c
}

func img() *frame.Frame { return &frame.Frame{Width: 1, Height: 1, Data: []byte{1, 2, 3}} }

func TestEligibility(t *testing.T) {
	a, c := newTest(model.ArbitrationPriorityLatest)
	if s := a.Select("t"); s.WriterID != "" || s.Frame != nil {
		t.Fatalf("empty transmission selected %+v", s)
	}
	a.Publish("t", "w", Open, 0, nil)
	if s := a.Select("t"); s.WriterID != "" {
		t.Errorf("a writer without a frame was selected")
	}
	a.Publish("t", "w", Update, 0, img())
	if s := a.Select("t"); s.WriterID != "w" || s.Frame == nil {
		t.Errorf("open writer with a frame not selected: %+v", s)
	}
	c.advance(DefaultFreshness) // exactly the window: still fresh
	if s := a.Select("t"); s.WriterID != "w" {
		t.Errorf("frame at the freshness limit not eligible")
	}
	c.advance(time.Millisecond)
	if s := a.Select("t"); s.WriterID != "" || s.Frame != nil || s.Reason != reasonNone {
		t.Errorf("stale frame still shown: %+v", s)
	}
	// A packet without a frame does not make the old frame fresh again.
	a.Publish("t", "w", Update, 0, nil)
	if s := a.Select("t"); s.WriterID != "" {
		t.Errorf("frameless update refreshed the frame")
	}
	a.Publish("t", "w", Update, 0, img())
	a.Publish("t", "w", Close, 0, nil)
	if s := a.Select("t"); s.WriterID != "" {
		t.Errorf("closed writer shown")
	}
}

func TestPriorityLatestPrefersPriority(t *testing.T) {
	a, c := newTest(model.ArbitrationPriorityLatest)
	a.Publish("t", "high", Update, 10, img())
	c.advance(100 * time.Millisecond)
	a.Publish("t", "low", Update, 1, img()) // fresher but lower priority
	if s := a.Select("t"); s.WriterID != "high" {
		t.Errorf("selected %q, want high", s.WriterID)
	}
	// Equal priority: the most recent frame wins (once the window allows).
	a.Publish("t", "high2", Update, 10, img())
	c.advance(DefaultSticky)
	if s := a.Select("t"); s.WriterID != "high2" {
		t.Errorf("selected %q, want high2 (same priority, fresher)", s.WriterID)
	}
}

func TestLatestPrefersRecencyThenPriorityThenID(t *testing.T) {
	a, c := newTest(model.ArbitrationLatest)
	a.Publish("t", "a", Update, 5, img())
	c.advance(10 * time.Millisecond)
	a.Publish("t", "b", Update, 0, img())
	c.advance(DefaultSticky)
	if s := a.Select("t"); s.WriterID != "b" {
		t.Errorf("selected %q, want b (most recent)", s.WriterID)
	}
	// Same instant: priority breaks the tie, then the writer id.
	a2, c2 := newTest(model.ArbitrationLatest)
	a2.Publish("t", "x", Update, 1, img())
	a2.Publish("t", "y", Update, 2, img())
	a2.Publish("t", "z", Update, 2, img())
	c2.advance(DefaultSticky) // x, selected first, is no longer sticky
	if s := a2.Select("t"); s.WriterID != "z" {
		t.Errorf("tie: selected %q, want z (priority 2, larger id)", s.WriterID)
	}
}

func TestStickyWindow(t *testing.T) {
	a, c := newTest(model.ArbitrationLatest)
	a.Publish("t", "first", Update, 0, img())
	c.advance(100 * time.Millisecond)
	a.Publish("t", "second", Update, 0, img())
	for _, step := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond} {
		c.advance(step)
		a.Publish("t", "second", Update, 0, img())
		if s := a.Select("t"); s.WriterID != "first" {
			t.Fatalf("switched to %q inside the sticky window", s.WriterID)
		}
	}
	c.advance(100 * time.Millisecond) // 500ms after "first" was selected
	if s := a.Select("t"); s.WriterID != "second" {
		t.Errorf("after the window: %q, want second", s.WriterID)
	}
}

func TestAlternatingWritersSwitchRarely(t *testing.T) {
	a, c := newTest(model.ArbitrationLatest)
	switches, last := 0, ""
	for i := range 8 {
		id := []string{"a", "b"}[i%2]
		if active, _ := a.Publish("t", id, Update, 0, img()); active != last {
			if last != "" {
				switches++
			}
			last = active
		}
		c.advance(50 * time.Millisecond)
	}
	if switches > 2 {
		t.Errorf("%d switches in 8 alternating updates 50ms apart, want at most 2", switches)
	}
}

func TestCloseHandsOver(t *testing.T) {
	a, c := newTest(model.ArbitrationPriorityLatest)
	a.Publish("t", "motion", Open, 10, img())
	a.Publish("t", "continuous", Update, 0, img())
	if s := a.Select("t"); s.WriterID != "motion" {
		t.Fatalf("selected %q", s.WriterID)
	}
	c.advance(10 * time.Millisecond) // well inside the sticky window
	if active, _ := a.Publish("t", "motion", Close, 10, nil); active != "continuous" {
		t.Errorf("after close: %q, want continuous at once", active)
	}
	a.Close("t", "continuous")
	if s := a.Select("t"); s.Frame != nil {
		t.Errorf("all closed but a frame is shown")
	}
	a.Close("t", "unknown") // no-op
	a.Close("nobody", "x")
}

func TestEvictions(t *testing.T) {
	a, c := newTest(model.ArbitrationPriorityLatest)
	for i := range DefaultMaxWriters {
		a.Publish("t", fmt.Sprintf("w%02d", i), Update, 0, img())
		c.advance(time.Millisecond)
	}
	a.Close("t", "w00") // a closed writer is not fresh: its slot can go
	if _, err := a.Publish("t", fmt.Sprintf("w%02d", DefaultMaxWriters), Update, 0, img()); err != nil {
		t.Fatalf("a new writer refused although w00 is closed: %v", err)
	}
	ws := a.Snapshot()["t"].Writers
	if len(ws) != DefaultMaxWriters {
		t.Fatalf("%d writers kept, want %d", len(ws), DefaultMaxWriters)
	}
	if _, ok := ws["w00"]; ok {
		t.Error("the closed writer was not evicted")
	}
	if _, ok := ws[fmt.Sprintf("w%02d", DefaultMaxWriters)]; !ok {
		t.Error("the newest writer was evicted")
	}
	c.advance(DefaultStaleAfter - 40*time.Millisecond)
	a.Publish("t", "w31", Update, 0, nil)
	c.advance(time.Second)
	snap := a.Snapshot()
	if len(snap["t"].Writers) != 1 {
		t.Errorf("after 30s of silence %d writers remain, want only w31", len(snap["t"].Writers))
	}
	c.advance(DefaultStaleAfter)
	if _, ok := a.Snapshot()["t"]; ok {
		t.Error("a transmission without writers is still listed")
	}
}

func TestSeqIdentifiesFrames(t *testing.T) {
	a, _ := newTest(model.ArbitrationPriorityLatest)
	a.Publish("t", "w", Update, 0, img())
	s1 := a.Select("t")
	s2 := a.Select("t")
	a.Publish("t", "w", Update, 0, img())
	s3 := a.Select("t")
	if s1.Seq == 0 || s1.Seq != s2.Seq || s3.Seq == s1.Seq {
		t.Errorf("seqs %d %d %d", s1.Seq, s2.Seq, s3.Seq)
	}
}

func TestPrune(t *testing.T) {
	a, _ := newTest(model.ArbitrationPriorityLatest)
	a.Publish("keep", "w", Update, 0, img())
	a.Publish("drop", "w", Update, 0, img())
	a.Prune(func(id string) bool { return id == "keep" })
	if a.Select("drop").Frame != nil || a.Select("keep").Frame == nil {
		t.Error("prune removed the wrong transmission")
	}
}

func TestConcurrentUse(t *testing.T) {
	a := New(DefaultConfig(), nil, nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				a.Publish("t", fmt.Sprint(w), Update, i%3, img())
			}
			a.Close("t", fmt.Sprint(w))
		})
	}
	wg.Go(func() {
		for range 500 {
			a.Select("t")
			a.Snapshot()
		}
	})
	wg.Wait()
	if s := a.Select("t"); s.WriterID != "" {
		t.Errorf("all writers closed, selected %q", s.WriterID)
	}
}

func TestSelectionCarriesTheSelectedWritersForward(t *testing.T) {
	a, c := newTest(model.ArbitrationPriorityLatest)
	fwd := &Forward{Source: camerahub.Source{URL: "rtsp://cam/1", Username: "u", Password: "p"}, RedactedURL: "rtsp://cam/1", FPS: 5}
	a.SetForward("t", "camera-only", fwd)
	a.Publish("t", "camera-only", Update, 0, img())
	if got := a.Select("t"); got.WriterID != "camera-only" || got.Forward != fwd {
		t.Fatalf("selection %q forward %+v, want camera-only with its forward", got.WriterID, got.Forward)
	}
	c.advance(time.Second)                        // past the sticky window
	a.Publish("t", "analysed", Update, 10, img()) // higher priority, forwards nothing
	if got := a.Select("t"); got.WriterID != "analysed" || got.Forward != nil {
		t.Fatalf("selection %q forward %+v, want analysed without forward", got.WriterID, got.Forward)
	}
	a.SetForward("t", "camera-only", nil)
	a.Publish("t", "camera-only", Update, 0, img())
	a.Close("t", "analysed")
	if got := a.Select("t"); got.WriterID != "camera-only" || got.Forward != nil {
		t.Fatalf("after clearing: selection %q forward %+v", got.WriterID, got.Forward)
	}
}

// Issue 11's reproduction: a flood of new writer ids evicted legitimate
// writers (the cap was first come). A writer that delivered a frame within
// the freshness window keeps its slot; new ids are refused and counted.
func TestFloodOfNewWritersDoesNotEvictBusyOnes(t *testing.T) {
	a, c := newTest(model.ArbitrationPriorityLatest)
	a.SetConfig(Config{Freshness: DefaultFreshness, Sticky: DefaultSticky, StaleAfter: DefaultStaleAfter, MaxWriters: 2})
	a.Publish("t", "camera", Update, 10, img())
	a.Publish("t", "boxes", Update, 5, img())
	for i := range 50 {
		if _, err := a.Publish("t", fmt.Sprintf("flood-%d", i), Update, 99, img()); !errors.Is(err, ErrTooManyWriters) {
			t.Fatalf("flood writer %d: err %v, want ErrTooManyWriters", i, err)
		}
	}
	st := a.Snapshot()["t"]
	if len(st.Writers) != 2 || st.WritersRefused != 50 || *st.ActiveWriter != "camera" {
		t.Fatalf("writers %v, refused %d, active %v", st.Writers, st.WritersRefused, *st.ActiveWriter)
	}
	// Once a writer goes quiet past the freshness window, a new one may take its slot.
	c.advance(DefaultFreshness + time.Second)
	a.Publish("t", "camera", Update, 10, img())
	if _, err := a.Publish("t", "newcomer", Update, 0, img()); err != nil {
		t.Fatalf("newcomer refused although boxes went quiet: %v", err)
	}
	if _, ok := a.Snapshot()["t"].Writers["boxes"]; ok {
		t.Error("the quiet writer kept its slot")
	}
}

// Counts are what /metrics reports as frames ingested and writer switches:
// every published frame, and every change of the selection (to and from the
// placeholder too), kept while writers come and go, until Prune.
func TestCounts(t *testing.T) {
	a, c := newTest(model.ArbitrationPriorityLatest)
	a.Publish("t", "low", Open, 0, nil) // no frame: nothing counted
	if got := a.Counts()["t"]; got != (Counts{}) {
		t.Fatalf("before any frame: %+v", got)
	}
	a.Publish("t", "low", Update, 0, img()) // none -> low
	a.Publish("t", "low", Update, 0, img())
	c.advance(DefaultSticky)
	a.Publish("t", "high", Update, 5, img()) // low -> high
	a.Publish("t", "high", Close, 5, nil)    // high -> low
	a.Select("t")                            // no change
	if got, want := a.Counts()["t"], (Counts{Frames: 3, Switches: 3}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	c.advance(DefaultStaleAfter + time.Second) // both writers forgotten: low -> none
	a.Select("t")
	if got, want := a.Counts()["t"], (Counts{Frames: 3, Switches: 4}); got != want {
		t.Errorf("after eviction: got %+v, want %+v", got, want)
	}
	if _, listed := a.Snapshot()["t"]; listed {
		t.Errorf("Snapshot lists a transmission without writers")
	}
	a.Prune(func(string) bool { return false })
	if got := a.Counts(); len(got) != 0 {
		t.Errorf("after Prune: %+v", got)
	}
}
