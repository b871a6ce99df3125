package api

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
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
		return t, "", errorf(http.StatusNotFound, "Transmission '%s' is disabled: enable it to publish", t.ID)
	}
	if !model.HostedHere(t.HostServerID, s.serverID) {
		return t, "", errorf(http.StatusNotFound, "Transmission '%s' is hosted on '%s': publish there", t.ID, t.HostServerID)
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

// rawFrame builds a frame from raw pixels in the params' format.
func rawFrame(p frameParams, data []byte) (*frame.Frame, error) {
	var f *frame.Frame
	var err error
	switch p.format {
	case "bgr24":
		f, err = frame.NewBGR(p.width, p.height, data)
	case "gray":
		f, err = frame.NewGray(p.width, p.height, data)
	case "bgra":
		f, err = frame.NewBGRA(p.width, p.height, data)
	default:
		return nil, errorf(http.StatusUnsupportedMediaType, "format must be bgr24, gray or bgra, not %q", p.format)
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
		s.writeError(w, r, err)
		return
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	raw := mediaType == "application/octet-stream"
	if !raw && mediaType != "image/jpeg" && mediaType != "image/png" {
		s.writeError(w, r, errorf(http.StatusUnsupportedMediaType, "Content-Type must be image/jpeg, image/png or application/octet-stream (raw pixels), not %q", mediaType))
		return
	}
	p, err := parseFrameParams(r, raw)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if r.ContentLength > MaxFrameBytes {
		s.writeError(w, r, errorf(http.StatusRequestEntityTooLarge, "Frame is larger than %d bytes", MaxFrameBytes))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFrameBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = errorf(http.StatusRequestEntityTooLarge, "Frame is larger than %d bytes", MaxFrameBytes)
		}
		s.writeError(w, r, err)
		return
	}
	var f *frame.Frame
	if raw {
		f, err = rawFrame(p, body)
	} else if f, err = frame.Decode(mediaType, body); err != nil {
		err = errorf(http.StatusBadRequest, "cannot decode the %s frame: %v", mediaType, err)
	}
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

// tooManyWriters is the 429 of a new writer refused at the writer cap.
func tooManyWriters(t model.Transmission, wid string) error {
	return errorf(http.StatusTooManyRequests, "Transmission '%s' has as many writers as runtime.max_writers allows, all of them delivering frames: writer '%s' is refused; close a writer (DELETE its writer) or raise runtime.max_writers", t.Name, wid)
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
// length followed by that many bytes. Raw frames (format bgr24, gray, bgra)
// take width and height from the query; format=jpeg or png sends encoded
// images. The first frame opens the writer, the others update it; the end
// of the body closes it. The answer comes at the end.
func (s *server) streamFrames(w http.ResponseWriter, r *http.Request) {
	t, wid, err := s.ingestTarget(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	encoded := format == "jpeg" || format == "png"
	if !encoded && !slices.Contains([]string{"", "bgr24", "gray", "bgra"}, format) {
		s.writeError(w, r, errorf(http.StatusUnsupportedMediaType, "format must be bgr24, gray, bgra, jpeg or png, not %q", format))
		return
	}
	p, err := parseFrameParams(r, !encoded)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	frames := 0
	fail := func(err error) {
		if frames > 0 {
			s.arbiter.Close(t.ID, wid)
		}
		s.writeError(w, r, err)
	}
	// On shutdown the server cancels the request's context; the body read
	// is cut then, so a stream that never ends does not hold the shutdown.
	rc := http.NewResponseController(w)
	unwatch := context.AfterFunc(r.Context(), func() { _ = rc.SetReadDeadline(time.Now()) })
	defer unwatch()
	shuttingDown := func() error {
		return errorf(http.StatusServiceUnavailable, "the server is shutting down: the stream ended after %d frames; reconnect to go on", frames)
	}
	in := bufio.NewReaderSize(r.Body, 1<<20)
	var header [4]byte
	var buf []byte
	lifecycle := arbiter.Open
	for {
		if _, err := io.ReadFull(in, header[:]); err != nil {
			if r.Context().Err() != nil {
				fail(shuttingDown())
				return
			}
			if errors.Is(err, io.EOF) {
				break
			}
			fail(errorf(http.StatusBadRequest, "frame %d: truncated length prefix", frames+1))
			return
		}
		n := int(binary.BigEndian.Uint32(header[:]))
		if n > MaxFrameBytes {
			fail(errorf(http.StatusRequestEntityTooLarge, "frame %d is %d bytes, more than %d", frames+1, n, MaxFrameBytes))
			return
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(in, buf); err != nil {
			if r.Context().Err() != nil {
				fail(shuttingDown())
				return
			}
			fail(errorf(http.StatusBadRequest, "frame %d: the body ended inside the frame (%d bytes announced)", frames+1, n))
			return
		}
		var f *frame.Frame
		if encoded {
			if f, err = frame.Decode("image/"+format, buf); err != nil {
				err = errorf(http.StatusBadRequest, "frame %d: %v", frames+1, err)
			}
		} else {
			f, err = rawFrame(p, buf)
		}
		if err != nil {
			fail(err)
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
