package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// ---- barcode ----
//
// A frame carries a 48-bit code: a 40-bit timestamp (microseconds since
// epoch, this harness's start, on the monotonic clock) and an 8-bit CRC of
// it. Each bit is a black (0) or white (1) square of side w/16, 16 per row,
// 3 rows, from the top-left corner: 80x80 pixels at 1280x720, far larger
// than H.264's 16x16 macroblocks, so it survives encoding at any sane
// bitrate. A reader samples the middle half of each square on the gray
// plane and thresholds at 128; the CRC rejects misreads.

const (
	codeBits = 48
	codeCols = 16
)

var epoch = time.Now()

// stampNow is the current time as a barcode timestamp.
func stampNow() uint64 { return uint64(time.Since(epoch) / time.Microsecond) }

func crc8(v uint64) byte {
	var crc byte
	for i := 4; i >= 0; i-- {
		crc ^= byte(v >> (8 * i))
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x07
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

func blockSide(w int) int { return w / codeCols }

// paintCode draws stamp into a BGR24 frame of width w.
func paintCode(bgr []byte, w int, stamp uint64) {
	code := (stamp&(1<<40-1))<<8 | uint64(crc8(stamp&(1<<40-1)))
	b := blockSide(w)
	for bit := range codeBits {
		v := byte(0)
		if code>>(codeBits-1-bit)&1 == 1 {
			v = 255
		}
		x0, y0 := (bit%codeCols)*b, (bit/codeCols)*b
		for y := y0; y < y0+b; y++ {
			row := bgr[(y*w+x0)*3 : (y*w+x0+b)*3]
			for i := range row {
				row[i] = v
			}
		}
	}
}

// readCode decodes the stamp from a gray frame of width w.
func readCode(gray []byte, w int) (uint64, bool) {
	b := blockSide(w)
	var code uint64
	for bit := range codeBits {
		x0, y0 := (bit%codeCols)*b+b/4, (bit/codeCols)*b+b/4
		sum, n := 0, 0
		for y := y0; y < y0+b/2; y += 2 {
			for x := x0; x < x0+b/2; x += 2 {
				sum += int(gray[y*w+x])
				n++
			}
		}
		code <<= 1
		if sum/n >= 128 {
			code |= 1
		}
	}
	stamp := code >> 8
	return stamp, byte(code) == crc8(stamp)
}

// ---- frames ----

// frameSource makes the frames a writer publishes.
type frameSource interface {
	// next returns frame i; the slice is valid until the next call.
	next(i int) []byte
}

// stampedBGR is a 1280x720-style BGR24 test picture: a colour gradient
// with a vertical white bar moving 8 px per frame (so the encoder has
// motion to code), and the barcode of the time at which the frame is made.
type stampedBGR struct {
	w, h      int
	base, buf []byte
}

func newStampedBGR(w, h int) *stampedBGR {
	s := &stampedBGR{w: w, h: h, base: make([]byte, w*h*3), buf: make([]byte, w*h*3)}
	for y := range h {
		for x := range w {
			i := (y*w + x) * 3
			s.base[i], s.base[i+1], s.base[i+2] = byte(x*255/w), byte(y*255/h), 128
		}
	}
	return s
}

func (s *stampedBGR) next(i int) []byte {
	copy(s.buf, s.base)
	bar := (i * 8) % (s.w - 16)
	for y := 3 * blockSide(s.w); y < s.h; y++ {
		row := s.buf[(y*s.w+bar)*3 : (y*s.w+bar+16)*3]
		for j := range row {
			row[j] = 255
		}
	}
	paintCode(s.buf, s.w, stampNow())
	return s.buf
}

// fixedFrame is always the same bytes (e.g. one JPEG).
type fixedFrame []byte

func (f fixedFrame) next(int) []byte { return f }

// testJPEG is a w x h gradient JPEG (quality 80).
func testJPEG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{byte(x * 255 / w), byte(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
	return b.Bytes()
}

// ---- writer: POST .../writers/{w}/stream ----

// writerResult is the end of one streaming request.
type writerResult struct {
	sent     int           // frames this client wrote
	accepted int           // frames the server says it took
	elapsed  time.Duration // from the request's start to the answer
	err      error
}

// streamWriter publishes frames through one streaming ingest request.
type streamWriter struct {
	cancel context.CancelFunc
	done   chan writerResult
}

// startWriter streams frames from src into transmission tid as writer wid
// at fps frames per second, paced by the wall clock (missed ticks are
// skipped, never burst). fps <= 0 sends as fast as the connection takes
// them. query holds the size or format parameters. The request ends when
// ctx ends or stop is called.
func startWriter(ctx context.Context, s *service, tid, wid, query string, fps float64, src frameSource) *streamWriter {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	w := &streamWriter{cancel: cancel, done: make(chan writerResult, 1)}
	sent := 0
	go func() {
		defer pw.Close()
		var hdr [4]byte
		pace(ctx, fps, src, func(data []byte) error {
			binary.BigEndian.PutUint32(hdr[:], uint32(len(data)))
			if _, err := pw.Write(hdr[:]); err != nil {
				return err
			}
			_, err := pw.Write(data)
			if err == nil {
				sent++
			}
			return err
		})
	}()
	go func() {
		start := time.Now()
		res := writerResult{}
		url := fmt.Sprintf("%s/transmissions/%s/writers/%s/stream?%s", s.base, tid, wid, query)
		// The request gets its own context: ending ctx ends the body (EOF),
		// and the server answers with the frame count.
		req, err := http.NewRequest("POST", url, pr)
		if err == nil {
			req.Header.Set("Content-Type", "application/octet-stream")
			var resp *http.Response
			resp, err = (&http.Client{}).Do(req)
			if err == nil {
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var answer struct {
					Frames int `json:"frames"`
				}
				if resp.StatusCode != 200 {
					err = fmt.Errorf("stream: status %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
				} else if err = json.Unmarshal(raw, &answer); err == nil {
					res.accepted = answer.Frames
				}
			}
		}
		_ = pr.CloseWithError(io.ErrClosedPipe)
		res.elapsed, res.err = time.Since(start), err
		cancel()
		w.done <- res
	}()
	return w
}

// pace calls write with frame i of src at start + i/fps, paced by the wall
// clock (missed ticks are skipped, never burst; fps <= 0: as fast as write
// returns), until ctx ends or write fails.
func pace(ctx context.Context, fps float64, src frameSource, write func([]byte) error) {
	start := time.Now()
	for i := 0; ctx.Err() == nil; i++ {
		if fps > 0 {
			due := start.Add(time.Duration(float64(i) * float64(time.Second) / fps))
			if late := time.Since(due); late > time.Duration(float64(time.Second)/fps) {
				i += int(late.Seconds() * fps)
				due = start.Add(time.Duration(float64(i) * float64(time.Second) / fps))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
		}
		if write(src.next(i)) != nil {
			return
		}
	}
}

// stop ends the stream and returns its result.
func (w *streamWriter) stop() writerResult {
	w.cancel()
	res := <-w.done
	return res
}

// ---- reader: ffmpeg over RTSP/TCP, gray frames on stdout ----

// Reader flavours. All use RTSP over TCP, decode without frame threading
// (-flags low_delay) and write every decoded frame as it comes (passthrough,
// no frame-rate conversion) as gray rawvideo on stdout.
const (
	// readerNoBuffer adds -fflags nobuffer (the latency reader). With it,
	// the packets ffmpeg reads while probing the stream are decoded for the
	// probe and then thrown away instead of being handed on, so the first
	// keyframe (or a whole replayed GOP) is lost and the first frame out is
	// the next keyframe: fine for steady-state latency, wrong for a first
	// frame.
	readerNoBuffer = "reader -fflags nobuffer"
	// readerNoProbe adds -fpsprobesize 0 instead: probing ends with the
	// first decoded frame (ffmpeg otherwise waits for 20 frames' timestamps
	// to estimate the frame rate), and that frame is kept.
	readerNoProbe = "reader -fpsprobesize 0"
	// readerPlain is the stock command `ffmpeg -rtsp_transport tcp -i URL
	// -frames:v 1 -f null -`, timed until it exits.
	readerPlain = "ffmpeg -frames:v 1 -f null -"
)

func readerArgs(url, flavour string) []string {
	args := []string{"-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-flags", "low_delay"}
	switch flavour {
	case readerNoBuffer:
		args = append(args, "-fflags", "nobuffer")
	case readerNoProbe:
		args = append(args, "-fpsprobesize", "0")
	}
	return append(args, "-i", url, "-an", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-")
}

// readFrames runs the reader on url and calls onFrame with the receipt
// time and the bytes of each w x h gray frame (valid during the call)
// until onFrame returns false, ctx ends or timeout passes. It returns when
// ffmpeg has been killed, with the time ffmpeg was started.
func readFrames(ctx context.Context, url, flavour string, w, h int, timeout time.Duration, onFrame func(at time.Time, gray []byte) bool) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", readerArgs(url, flavour)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return time.Time{}, err
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		return started, err
	}
	in := bufio.NewReaderSize(out, 1<<16)
	buf := make([]byte, w*h)
	got := 0
	for {
		if _, err = io.ReadFull(in, buf); err != nil {
			break
		}
		got++
		if !onFrame(time.Now(), buf) {
			break
		}
	}
	cancel()
	_ = cmd.Wait()
	if got == 0 {
		return started, fmt.Errorf("reader got no frame (%v): %s", ctx.Err(), strings.TrimSpace(stderr.String()))
	}
	return started, nil
}

// timeCommand runs ffmpeg with args and returns how long it took to exit.
func timeCommand(ctx context.Context, timeout time.Duration, args ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return took, nil
}

// ---- small helpers ----

var logMu sync.Mutex

func logf(format string, args ...any) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Printf("  [%6.1fs] %s\n", time.Since(epoch).Seconds(), fmt.Sprintf(format, args...))
}
