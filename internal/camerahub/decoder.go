package camerahub

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/toposync/toposync-streaming/internal/engine/h264rtp"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/publisher"
)

// decoderQueue bounds the access units waiting for a decoder's ffmpeg; a
// full queue drops up to the next IDR (what follows would not decode).
const decoderQueue = 64

// maxPending bounds the access units written to one ffmpeg that wait for
// their frame (a decoder that returns none for some forgets them).
const maxPending = 64

// stdinWait bounds the wait for a starting ffmpeg's stdin.
const stdinWait = time.Second

// latencySamples is how many recent frames the latency median covers.
const latencySamples = 64

// tsOffset puts every timestamp one second after zero, so that the PCR
// the MPEG-TS writer places before the first one is not negative.
const tsOffset = 90000

// aud is the access unit delimiter that ends every access unit written to
// ffmpeg (see write).
var aud = []byte{9, 0xf0}

// decoder is one ffmpeg decoding a camera at one output size for all the
// consumers of that size. Its own goroutine (run) takes access units from
// a queue and writes them to the current ffmpeg; the ffmpeg starts at the
// first IDR (whose SPS gives the camera's size), is restarted by its
// publisher.Process when it dies, and is replaced when the SPS's size
// changes. Each process is fed from an IDR on.
type decoder struct {
	cam           *camera
	width, height int // requested; 0x0: the camera's size
	name          string
	in            chan AccessUnit
	waitIDR       atomic.Bool // the queue overflowed: drop up to the next IDR
	subs          atomic.Pointer[[]*Frames]
	stop, done    chan struct{}
	cur           atomic.Pointer[decodeRun] // the newest process's run

	procMu  sync.Mutex
	proc    *publisher.Process // the current process (nil before the first IDR)
	closing bool

	replaced, frames, droppedUnits atomic.Uint64
	outW, outH                     atomic.Int64 // the current process's output size

	latMu   sync.Mutex
	latency []time.Duration // ring of the last latencySamples
	latNext int
}

// decodeRun is one ffmpeg process's side: its stdin, its output size and
// the access units written to it that wait for their frames.
type decodeRun struct {
	width, height int
	stdin         chan io.WriteCloser // the process's stdin, once started

	mu      sync.Mutex
	pending []pendingFrame
}

type pendingFrame struct {
	pts     time.Duration
	arrived time.Time // from the camera
	written time.Time // to ffmpeg
}

func newDecoder(c *camera, width, height int) *decoder {
	size := "own-size"
	if width > 0 {
		size = strconv.Itoa(width) + "x" + strconv.Itoa(height)
	}
	name := "camera-" + c.src.URL + "-" + size
	if u, err := url.Parse(c.src.URL); err == nil {
		name = "camera-" + u.Host + u.Path + "-" + size
	}
	d := &decoder{cam: c, width: width, height: height, name: name,
		in: make(chan AccessUnit, decoderQueue), stop: make(chan struct{}), done: make(chan struct{})}
	d.subs.Store(&[]*Frames{})
	go d.run()
	return d
}

func (d *decoder) key() [2]int { return [2]int{d.width, d.height} }

func (d *decoder) setSubscribers(subs []*Frames) { d.subs.Store(&subs) }

// push queues an access unit without waiting (the camera's packet path).
func (d *decoder) push(au AccessUnit) {
	if d.waitIDR.Load() && !au.IDR {
		d.droppedUnits.Add(1)
		return
	}
	select {
	case d.in <- au:
		d.waitIDR.Store(false)
	default:
		d.droppedUnits.Add(1)
		d.waitIDR.Store(true)
	}
}

// close ends the decoder and its ffmpeg, and waits for both.
func (d *decoder) close() {
	d.procMu.Lock()
	d.closing = true
	p := d.proc
	d.proc = nil
	d.procMu.Unlock()
	if p != nil {
		p.Close() // a write blocked on its stdin fails now
	}
	close(d.stop)
	<-d.done
}

func (d *decoder) run() {
	defer close(d.done)
	defer d.replace(0, 0) // ends the last process
	var (
		run     *decodeRun
		w       *bufio.Writer
		ts      *mpegts.Writer
		broken  bool // the current process's stdin failed
		needIDR bool
		camW    int // the camera size the process was started for
		camH    int
	)
	for {
		var au AccessUnit
		select {
		case <-d.stop:
			return
		case au = <-d.in:
		}
		if au.IDR {
			if cw, ch, ok := spsSize(spsOf(au.NALUs)); ok && (cw != camW || ch != camH) {
				if !d.replace(cw, ch) {
					return
				}
				camW, camH = cw, ch
			}
		}
		cur := d.cur.Load()
		if cur == nil {
			continue // no process yet: waiting for the first IDR
		}
		if cur != run { // a new process (first, restarted or replaced)
			run, w, ts, broken, needIDR = cur, nil, nil, false, true
		}
		if w == nil && !broken && (au.IDR || !needIDR) {
			// The process may still be starting: wait for its stdin a
			// moment (the queue holds what arrives meanwhile) rather than
			// skip the IDR it must start with.
			timer := time.NewTimer(stdinWait)
			select {
			case <-d.stop:
				timer.Stop()
				return
			case stdin := <-run.stdin:
				w = bufio.NewWriterSize(stdin, 64<<10)
				ts = &mpegts.Writer{W: w, Tracks: []*mpegts.Track{{Codec: &codecs.H264{}}}}
				if err := ts.Initialize(); err != nil {
					broken = true
				}
			case <-timer.C:
			}
			timer.Stop()
		}
		if w == nil || broken || (needIDR && !au.IDR) {
			continue
		}
		needIDR = false
		if err := d.write(run, w, ts, au); err != nil {
			broken = true // the process is gone; its restart brings a new run
		}
	}
}

// write hands one access unit to ffmpeg as MPEG-TS. Two things make
// ffmpeg decode it at once rather than one or two frames later: an AUD
// after the slices, so its H.264 parser sees the access unit end without
// waiting for the next one, and a second PES holding only an AUD, because
// ffmpeg's MPEG-TS demuxer passes a video PES on (its length is 0: open)
// only when the next one starts.
func (d *decoder) write(run *decodeRun, w *bufio.Writer, ts *mpegts.Writer, au AccessUnit) error {
	run.add(pendingFrame{pts: au.PTS, arrived: au.Time, written: time.Now()})
	pts := ticksOf(au.PTS) + tsOffset
	track := ts.Tracks[0]
	if err := ts.WriteH264(track, pts, pts, append(slices.Clip(au.NALUs), aud)); err != nil {
		return err
	}
	if err := ts.WriteH264(track, pts, pts, [][]byte{aud}); err != nil {
		return err
	}
	return w.Flush()
}

// replace stops the current ffmpeg and, for a camera size (cw x ch, not
// 0x0), starts one for it. False: the decoder is closing.
func (d *decoder) replace(cw, ch int) bool {
	d.procMu.Lock()
	old := d.proc
	d.proc = nil
	closing := d.closing
	d.procMu.Unlock()
	if old != nil {
		old.Close()
		d.replaced.Add(1)
	}
	if closing || cw == 0 {
		return !closing
	}
	ow, oh := d.width, d.height
	if ow == 0 {
		ow, oh = cw, ch
	}
	d.outW.Store(int64(ow))
	d.outH.Store(int64(oh))
	newRun := func() *decodeRun { return &decodeRun{width: ow, height: oh, stdin: make(chan io.WriteCloser, 1)} }
	// The first run is made here, so the IDR that started the process
	// goes to it; each restart gets its own run before its pipes exist,
	// so its stdin and stdout hooks find the same one.
	d.cur.Store(newRun())
	starts := 0
	p := &publisher.Process{
		Spec: publisher.Spec{
			Name: d.name, Binary: d.cam.hub.FFmpeg, Args: decoderArgs(d.width, d.height, d.cam.hub.LogLevel),
			BeforeStart: func() error {
				if starts > 0 {
					d.cur.Store(newRun())
				}
				starts++
				return nil
			},
			Stdin:  func(w io.WriteCloser) { d.cur.Load().stdin <- w },
			Stdout: d.read,
		},
		Supervision: publisher.Supervision{LogDir: d.cam.hub.LogDir, Logger: d.cam.log},
	}
	if err := p.Initialize(); err != nil {
		d.cam.log.Error("decoder cannot start", "err", err)
		return true
	}
	d.procMu.Lock()
	closing = d.closing
	if !closing {
		d.proc = p
	}
	d.procMu.Unlock()
	if closing { // close() came meanwhile and found no process to end
		p.Close()
	}
	return !closing
}

// spsOf is the SPS among an access unit's NAL units (nil without one).
func spsOf(nalus [][]byte) []byte {
	for _, n := range nalus {
		if h264rtp.NALUType(n) == h264.NALUTypeSPS {
			return n
		}
	}
	return nil
}

// decoderArgs is a decoder's command line: MPEG-TS on stdin, BGR24 on
// stdout, nothing else it could open. Low latency: a tiny probe, no frame
// threads in the decoder (low_delay) nor in the rawvideo encoder (which
// would hold frames back), one output frame per decoded one, each flushed.
func decoderArgs(width, height int, logLevel string) []string {
	args := []string{"-hide_banner", "-loglevel", logLevel, "-nostats",
		"-probesize", "32", "-analyzeduration", "0", "-flags", "low_delay",
		"-protocol_whitelist", "pipe", "-f", "mpegts", "-i", "pipe:0",
		"-map", "0:v:0", "-an", "-sn", "-dn"}
	if width > 0 {
		args = append(args, "-vf", fmt.Sprintf("scale=%d:%d", width, height))
	}
	return append(args, "-fps_mode", "passthrough", "-threads", "1",
		"-f", "rawvideo", "-pix_fmt", "bgr24", "-flush_packets", "1", "pipe:1")
}

// read is one process's Stdout hook: frames of its run's size, each paired
// with the access unit written first, go to every subscriber.
func (d *decoder) read(r io.Reader) {
	run := d.cur.Load()
	readFrames(r, run.width, run.height, func(fr *frame.Frame, now time.Time) {
		f := Frame{Frame: fr, Time: now}
		if p, ok := run.take(); ok {
			f.PTS, f.Time = p.pts, p.arrived
			d.addLatency(now.Sub(p.written))
		}
		d.frames.Add(1)
		for _, s := range *d.subs.Load() {
			s.offer(f)
		}
	})
}

// readFrames reads BGR24 frames of one size from a decoding ffmpeg's
// stdout until it ends, handing each to got with the time it was read.
func readFrames(r io.Reader, width, height int, got func(f *frame.Frame, now time.Time)) {
	size := width * height * 3
	for {
		buf := make([]byte, size) // shared by the subscribers, never reused
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		got(&frame.Frame{Width: width, Height: height, Data: buf}, time.Now())
	}
}

func (run *decodeRun) add(p pendingFrame) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if len(run.pending) == maxPending {
		run.pending = run.pending[1:]
	}
	run.pending = append(run.pending, p)
}

func (run *decodeRun) take() (pendingFrame, bool) {
	run.mu.Lock()
	defer run.mu.Unlock()
	if len(run.pending) == 0 {
		return pendingFrame{}, false
	}
	p := run.pending[0]
	run.pending = run.pending[1:]
	return p, true
}

func (d *decoder) addLatency(l time.Duration) {
	d.latMu.Lock()
	defer d.latMu.Unlock()
	if len(d.latency) < latencySamples {
		d.latency = append(d.latency, l)
		return
	}
	d.latency[d.latNext] = l
	d.latNext = (d.latNext + 1) % latencySamples
}

// medianLatency is the median of the recent latencies (0 without any).
func (d *decoder) medianLatency() time.Duration {
	d.latMu.Lock()
	l := slices.Clone(d.latency)
	d.latMu.Unlock()
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[len(l)/2]
}

// health is the decoder's last ffmpeg error while it is not running, and
// how often its ffmpeg was restarted or replaced.
func (d *decoder) health() (problem string, restarts int) {
	d.procMu.Lock()
	p := d.proc
	d.procMu.Unlock()
	restarts = int(d.replaced.Load())
	if p == nil {
		return "", restarts
	}
	st := p.Status()
	if !st.Running {
		problem = st.LastError
	}
	return problem, restarts + st.Restarts
}

func (d *decoder) status() DecoderStatus {
	d.procMu.Lock()
	p := d.proc
	d.procMu.Unlock()
	out := DecoderStatus{Width: d.width, Height: d.height, OwnSize: d.width == 0, Consumers: len(*d.subs.Load()),
		Restarts: int(d.replaced.Load()), Frames: d.frames.Load(), DroppedUnits: d.droppedUnits.Load(),
		LatencyMS: round1(float64(d.medianLatency().Microseconds()) / 1000)}
	if out.OwnSize {
		out.Width, out.Height = int(d.outW.Load()), int(d.outH.Load())
	}
	if p != nil {
		st := p.Status()
		out.Running, out.LastError = st.Running, st.LastError
		out.Restarts += st.Restarts
	}
	return out
}
