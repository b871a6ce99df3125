package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/arbiter"
	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/reqbody"
)

// MaxFrameBytes bounds one frame of the ingest API: a raw 7680x4320 BGR24
// frame, the largest output size.
const MaxFrameBytes = model.MaxWidth * model.MaxHeight * 3

// ingestTarget checks that the request names a transmission this server
// publishes, and a usable writer id.
func (s *server) ingestTarget(r *http.Request) (model.Transmission, string, error) {
	t, err := s.lookup(r)
	if err != nil {
		return t, "", err
	}
	if !t.Enabled {
		return t, "", errorf(http.StatusNotFound, "Transmission '%s' is disabled: enable it to publish", t.Label())
	}
	if !model.HostedHere(t.HostServerID, s.serverID) {
		return t, "", errorf(http.StatusNotFound, "Transmission '%s' is hosted on '%s': publish there", t.Label(), t.HostServerID)
	}
	wid := strings.TrimSpace(r.PathValue("writer_id"))
	if wid == "" || len(wid) > 200 {
		return t, "", errorf(http.StatusBadRequest, "writer_id must be 1 to 200 characters")
	}
	return t, wid, nil
}

// frameParams are the query parameters of a frame upload.
type frameParams struct {
	lifecycle arbiter.Lifecycle
	priority  int
	width     int
	height    int
	format    string // bgr24, gray, bgra (raw bodies)
}

func parseFrameParams(r *http.Request, needSize bool) (frameParams, error) {
	q := r.URL.Query()
	p := frameParams{lifecycle: arbiter.Update, format: "bgr24"}
	switch lc := q.Get("lifecycle"); lc {
	case "", "update":
	case "open":
		p.lifecycle = arbiter.Open
	default:
		return p, errorf(http.StatusBadRequest, "lifecycle must be 'open' or 'update' (close a writer with DELETE), not %q", lc)
	}
	if v := q.Get("priority"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, errorf(http.StatusBadRequest, "priority must be an integer, not %q", v)
		}
		p.priority = n
	}
	if v := q.Get("format"); v != "" {
		p.format = v
	}
	if !needSize {
		return p, nil
	}
	if rawBytesPerPixel[p.format] == 0 {
		return p, errorf(http.StatusUnsupportedMediaType, "format must be bgr24, gray or bgra, not %q", p.format)
	}
	for _, f := range []struct {
		key string
		max int
		dst *int
	}{{"width", model.MaxWidth, &p.width}, {"height", model.MaxHeight, &p.height}} {
		n, err := strconv.Atoi(q.Get(f.key))
		if err != nil || n < 1 || n > f.max {
			return p, errorf(http.StatusBadRequest, "raw frames need query parameter %s between 1 and %d", f.key, f.max)
		}
		*f.dst = n
	}
	return p, nil
}

// rawBytesPerPixel are the raw pixel formats of the ingest API.
var rawBytesPerPixel = map[string]int{"bgr24": 3, "gray": 1, "bgra": 4}

// rawFrame builds a frame from raw pixels in the params' format. data is
// the caller's to give (read by readOwned): BGR24 pixels become the frame
// as they are.
func rawFrame(p frameParams, data []byte) (*frame.Frame, error) {
	var f *frame.Frame
	var err error
	switch p.format {
	case "bgr24":
		f, err = frame.WrapBGR(p.width, p.height, data)
	case "gray":
		f, err = frame.NewGray(p.width, p.height, data)
	case "bgra":
		f, err = frame.NewBGRA(p.width, p.height, data)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	return f, nil
}

// putFrame is PUT /transmissions/{id}/writers/{writer_id}/frame: one frame
// as image/jpeg, image/png, or application/octet-stream raw pixels.
func (s *server) putFrame(w http.ResponseWriter, r *http.Request) {
	t, wid, err := s.ingestTarget(r)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	leave, err := s.clients.enter(r)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	defer leave()
	reqbody.SetDeadline(r, time.Now().Add(s.ingest.FrameUpload))
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	raw := mediaType == "application/octet-stream"
	if !raw && mediaType != "image/jpeg" && mediaType != "image/png" {
		s.refuse(w, r, errorf(http.StatusUnsupportedMediaType, "Content-Type must be image/jpeg, image/png or application/octet-stream (raw pixels), not %q", mediaType))
		return
	}
	p, err := parseFrameParams(r, raw)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	lim := limitFor(t)
	if raw {
		mediaType = ""
		if err := lim.check(p.width, p.height); err != nil {
			s.refuse(w, r, err)
			return
		}
	}
	if r.ContentLength > MaxFrameBytes {
		s.refuse(w, r, errorf(http.StatusRequestEntityTooLarge, "Frame is larger than %d bytes", MaxFrameBytes))
		return
	}
	body, err := readFrameBody(w, r, raw, p)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	f, err := s.buildFrame(r.Context(), lim, mediaType, p, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	active, err := s.arbiter.Publish(t.ID, wid, p.lifecycle, p.priority, f)
	if err != nil {
		s.writeError(w, r, tooManyWriters(t, wid))
		return
	}
	writeJSON(w, http.StatusAccepted, writerAnswer(t.ID, wid, active))
}

// readFrameBody reads the body of a frame upload. A raw body must be
// exactly the frame's bytes: it is read into a buffer of that size that
// becomes the frame (readOwned), so raw pixels are copied at most once on
// their way to the arbiter.
func readFrameBody(w http.ResponseWriter, r *http.Request, raw bool, p frameParams) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, MaxFrameBytes)
	tooLarge := fmt.Sprintf("Frame is larger than %d bytes", MaxFrameBytes)
	if !raw {
		data, err := io.ReadAll(body)
		if err != nil {
			return nil, bodyError(err, tooLarge)
		}
		return data, nil
	}
	n := p.width * p.height * rawBytesPerPixel[p.format]
	data, got, err := readOwned(body, n, false)
	if errors.Is(err, errShortFrame) {
		return nil, errorf(http.StatusBadRequest, "A raw %s frame of %dx%d is %d bytes, the body has %d: send exactly width*height*%d bytes", p.format, p.width, p.height, n, got, rawBytesPerPixel[p.format])
	}
	if err != nil {
		return nil, bodyError(err, tooLarge)
	}
	var more [1]byte
	if k, _ := io.ReadFull(body, more[:]); k > 0 {
		return nil, errorf(http.StatusBadRequest, "A raw %s frame of %dx%d is %d bytes, the body has more: send exactly width*height*%d bytes", p.format, p.width, p.height, n, rawBytesPerPixel[p.format])
	}
	return data, nil
}

// refuse answers an ingest request whose body is not read (or not to its
// end): the connection closes after the answer, so neither side waits for
// the rest of a body nobody wants.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Connection", "close")
	s.writeError(w, r, err)
}

// tooManyWriters is the 429 of a new writer refused at the writer cap.
func tooManyWriters(t model.Transmission, wid string) error {
	return errorf(http.StatusTooManyRequests, "Transmission '%s' has as many writers as runtime.max_writers allows, all of them delivering frames: writer '%s' is refused; close a writer (DELETE its writer) or raise runtime.max_writers", t.Label(), wid)
}

func writerAnswer(tid, wid, active string) map[string]any {
	var a any
	if active != "" {
		a = active
	}
	return map[string]any{"transmission_id": tid, "writer_id": wid, "active_writer": a}
}

// deleteWriter closes a writer: it is no longer shown.
func (s *server) deleteWriter(w http.ResponseWriter, r *http.Request) {
	t, wid, err := s.ingestTarget(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, writerAnswer(t.ID, wid, s.arbiter.Close(t.ID, wid)))
}

// streamFrames is POST /transmissions/{id}/writers/{writer_id}/stream: one
// long request whose body is a sequence of frames, each a 4-byte big-endian
// length followed by that many bytes (frameReader). Raw frames (format
// bgr24, gray, bgra) take width and height from the query; format=jpeg or
// png sends encoded images. The first frame opens the writer, the others
// update it; the end of the body closes it. The answer comes at the end.
// A stream that sends nothing for the body idle time (10 s) is ended.
func (s *server) streamFrames(w http.ResponseWriter, r *http.Request) {
	t, wid, err := s.ingestTarget(r)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	leave, err := s.clients.enter(r)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	defer leave()
	format := r.URL.Query().Get("format")
	encoded := format == "jpeg" || format == "png"
	if !encoded && !slices.Contains([]string{"", "bgr24", "gray", "bgra"}, format) {
		s.refuse(w, r, errorf(http.StatusUnsupportedMediaType, "format must be bgr24, gray, bgra, jpeg or png, not %q", format))
		return
	}
	p, err := parseFrameParams(r, !encoded)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	lim := limitFor(t)
	mediaType := ""
	if encoded {
		mediaType = "image/" + format
	} else if err := lim.check(p.width, p.height); err != nil {
		s.refuse(w, r, err)
		return
	}
	frames := 0
	fail := func(err error) {
		if frames > 0 {
			s.arbiter.Close(t.ID, wid)
		}
		s.refuse(w, r, err)
	}
	// Raw BGR24 frames are read into buffers that become the frames.
	in := &frameReader{r: bufio.NewReaderSize(r.Body, 1<<20), max: MaxFrameBytes, keep: !encoded && p.format == "bgr24"}
	lifecycle := arbiter.Open
	for {
		data, err := in.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(streamError(err, frames))
			return
		}
		f, err := s.buildFrame(r.Context(), lim, mediaType, p, data)
		if err != nil {
			fail(inFrame(frames+1, err))
			return
		}
		if _, err := s.arbiter.Publish(t.ID, wid, lifecycle, p.priority, f); err != nil {
			fail(tooManyWriters(t, wid))
			return
		}
		lifecycle = arbiter.Update
		frames++
	}
	active := s.arbiter.Close(t.ID, wid)
	answer := writerAnswer(t.ID, wid, active)
	answer["frames"] = frames
	writeJSON(w, http.StatusOK, answer)
}

// inFrame prefixes an answer's detail with the frame it is about.
func inFrame(n int, err error) error {
	var he *httpError
	if !errors.As(err, &he) {
		return err
	}
	e := *he
	e.detail = fmt.Sprintf("frame %d: %s", n, e.detail)
	return &e
}

// streamError is the answer to a stream body that failed after frames
// whole frames.
func streamError(err error, frames int) error {
	var tooLarge *frameTooLargeError
	var timeout *reqbody.TimeoutError
	switch {
	case errors.Is(err, reqbody.ErrCanceled):
		return errorf(http.StatusServiceUnavailable, "the server is shutting down: the stream ended after %d frames; reconnect to go on", frames)
	case errors.As(err, &timeout):
		return errorf(http.StatusRequestTimeout, "frame %d: %v: send frames without such pauses, or end the stream and start a new one when frames resume", frames+1, timeout)
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "frame %d is %v", frames+1, tooLarge)
	case errors.Is(err, errShortPrefix):
		return errorf(http.StatusBadRequest, "frame %d: truncated length prefix", frames+1)
	case errors.Is(err, errShortFrame):
		return errorf(http.StatusBadRequest, "frame %d: %v", frames+1, err)
	}
	return errorf(http.StatusBadRequest, "frame %d: could not read the body: %v", frames+1, err)
}
