package testutil

import (
	"bufio"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ReadAccessUnits splits an H.264 Annex-B stream with an AUD in front of
// every access unit (ffmpeg's -bsf:v h264_metadata=aud=insert) into access
// units of NAL units without start codes, calling fn for each one as soon
// as the next AUD (or the end of r) completes it. It returns r's error (nil
// at EOF) or fn's.
func ReadAccessUnits(r io.Reader, fn func(au [][]byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var au [][]byte
	var nalu []byte
	zeros := 0 // zero bytes seen that may start a start code
	started := false
	endNALU := func() error {
		if !started {
			return nil
		}
		if len(nalu) > 0 {
			if nalu[0]&0x1f == 9 && len(au) > 0 { // an AUD begins the next access unit
				if err := fn(au); err != nil {
					return err
				}
				au = nil
			}
			au = append(au, nalu)
		}
		nalu = nil
		return nil
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			if err := endNALU(); err != nil {
				return err
			}
			if len(au) > 0 {
				if err := fn(au); err != nil {
					return err
				}
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
		switch {
		case b == 0:
			zeros++
			continue
		case b == 1 && zeros >= 2: // a start code: the unit before it ends
			if err := endNALU(); err != nil {
				return err
			}
			started, zeros = true, 0
			continue
		}
		if started {
			for ; zeros > 0; zeros-- {
				nalu = append(nalu, 0)
			}
			nalu = append(nalu, b)
		}
		zeros = 0
	}
}

// H264Encoder is an ffmpeg encoding a test source in real time into
// Annex-B H.264 on its stdout, as the service's encoders do: libx264
// ultrafast, zerolatency, a keyframe every second, an AUD before every
// access unit.
type H264Encoder struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stderr *SyncBuffer
}

// StartH264Encoder starts ffmpeg encoding lavfi source (e.g.
// "testsrc=size=320x240:rate=15") at fps frames a second; it is killed
// when the test ends at the latest.
func StartH264Encoder(t testing.TB, source string, fps int) *H264Encoder {
	t.Helper()
	RequireFFmpeg(t)
	g := strconv.Itoa(fps)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", source,
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", g, "-keyint_min", g, "-sc_threshold", "0", "-bsf:v", "h264_metadata=aud=insert",
		"-flush_packets", "1", "-f", "h264", "-")
	e := &H264Encoder{cmd: cmd, stderr: &SyncBuffer{}}
	cmd.Stderr = e.stderr
	var err error
	if e.stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Kill)
	return e
}

// Feed calls write for every access unit the encoder makes, with the
// presentation time start + n/fps for the n-th (from 0), until the encoder
// ends or write fails. It returns the number of access units written.
func (e *H264Encoder) Feed(start time.Duration, fps int, write func(pts time.Duration, au [][]byte) error) int {
	n := 0
	_ = ReadAccessUnits(e.stdout, func(au [][]byte) error {
		if err := write(start+time.Duration(n)*time.Second/time.Duration(fps), au); err != nil {
			return err
		}
		n++
		return nil
	})
	return n
}

// Kill ends the encoder at once (SIGKILL, as an encoder crash) and waits
// for it.
func (e *H264Encoder) Kill() {
	if e.cmd.ProcessState == nil {
		_ = e.cmd.Process.Kill()
		_ = e.cmd.Wait()
	}
}

// Stderr is what ffmpeg said.
func (e *H264Encoder) Stderr() string { return e.stderr.String() }

// Decoder is an ffmpeg that reads a stream and decodes every frame (a
// player without a screen): Frames counts the decoded frames and Size is
// the size of the last one.
type Decoder struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *SyncBuffer

	mu     sync.Mutex
	frames int
	size   string
}

// StartDecoder starts decoding url (ffmpeg input options in front, e.g.
// "-rtsp_transport", "tcp"); it is killed when the test ends at the latest.
func StartDecoder(t testing.TB, url string, inputArgs ...string) *Decoder {
	t.Helper()
	RequireFFmpeg(t)
	args := append([]string{"-hide_banner", "-nostdin", "-loglevel", "info"}, inputArgs...)
	args = append(args, "-i", url, "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-")
	d := &Decoder{cmd: exec.Command("ffmpeg", args...), exited: make(chan struct{}), out: &SyncBuffer{}}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(d.exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.line(sc.Text())
		}
		_ = d.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
	})
	return d
}

// line counts a showinfo line ("... n: 12 pts: ... s:320x240 ...") and
// keeps the rest for Output.
func (d *Decoder) line(l string) {
	_, info, ok := strings.Cut(l, "] n:")
	if !ok || !strings.Contains(l, "showinfo") {
		_, _ = d.out.Write([]byte(l + "\n"))
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frames++
	if _, s, ok := strings.Cut(info, " s:"); ok {
		d.size, _, _ = strings.Cut(s, " ")
	}
}

// Frames is the number of frames decoded so far.
func (d *Decoder) Frames() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.frames
}

// Size is the size of the last decoded frame ("320x240").
func (d *Decoder) Size() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size
}

// Exited is closed when ffmpeg ended (its input ended or failed).
func (d *Decoder) Exited() <-chan struct{} { return d.exited }

// Kill ends the decoder (its reader session with it) and waits for it.
func (d *Decoder) Kill() {
	_ = d.cmd.Process.Kill()
	<-d.exited
}

// Output is what ffmpeg said apart from the frame lines.
func (d *Decoder) Output() string { return d.out.String() }

// Feeder runs encoders one after another into one writer (a sink's
// WriteAccessUnit), as the service does: the timestamps are the time since
// the feeder was made, so they keep increasing across encoder restarts.
type Feeder struct {
	t     testing.TB
	write func(pts time.Duration, au [][]byte) error
	t0    time.Time
	enc   *H264Encoder
	ended chan struct{}
}

// NewFeeder makes a feeder of write.
func NewFeeder(t testing.TB, write func(pts time.Duration, au [][]byte) error) *Feeder {
	return &Feeder{t: t, write: write, t0: time.Now()}
}

// Start runs an encoder of a lavfi source at 15 fps (see
// StartH264Encoder) into the writer until Kill.
func (f *Feeder) Start(source string) {
	f.t.Helper()
	f.enc = StartH264Encoder(f.t, source, 15)
	f.ended = make(chan struct{})
	enc, ended, start := f.enc, f.ended, time.Since(f.t0)
	go func() {
		defer close(ended)
		enc.Feed(start, 15, f.write)
	}()
}

// Kill ends the running encoder as a crash would, and waits until nothing
// more is written.
func (f *Feeder) Kill() {
	f.enc.Kill()
	<-f.ended
}

// NAL units for tests of H.264 handling: SPS and PPS of ffmpeg's testsrc
// at 640x360 (libx264 ultrafast, yuv420p), a tiny IDR slice, a P slice and
// an access unit delimiter.
var (
	H264SPS = []byte{0x67, 0x42, 0xc0, 0x16, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03,
		0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0x7a, 0x3c, 0x58, 0xba, 0x80}
	H264PPS = []byte{0x68, 0xce, 0x3c, 0x80}
	H264IDR = []byte{0x65, 0x88, 0x84, 0x00}
	H264P   = []byte{0x41, 0x9a, 0x02}
	H264AUD = []byte{0x09, 0xf0}
)
