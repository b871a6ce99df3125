package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/toposync/toposync-streaming/internal/frame"
	"github.com/toposync/toposync-streaming/internal/model"
)

// Bounds of GET /transmissions/{id}/snapshot.
const (
	// MaxSnapshotWidth caps the width a snapshot may be asked for (4K UHD),
	// so a request cannot make the server scale up to 8K.
	MaxSnapshotWidth = 3840
	minSnapshotWidth = 16
	snapshotQuality  = 85
)

// snapshotParams are the query parameters a snapshot takes.
var snapshotParams = []string{"output", "width"}

// snapshot is GET /transmissions/{id}/snapshot: a JPEG of what the
// transmission's viewers see now, built as a frame pump builds it (the
// selected writer's frame, or the placeholder when none is eligible,
// contain-resized). It reads the arbiter only, so it needs no viewer, no
// publisher and no running engine.
//
//   - output=<id>: the picture at that enabled output's size, as its viewers
//     get it; without it, the writer's frame at its own size (the
//     placeholder at the largest output's size).
//   - width=<px>: scaled to that width, the aspect ratio kept.
func (s *server) snapshot(w http.ResponseWriter, r *http.Request) {
	t, err := s.lookup(r)
	if err == nil && s.isRemote(t.HostServerID) {
		err = errorf(http.StatusConflict, "Transmission '%s' is hosted on processing server '%s', which holds its frames: ask that server's API for the snapshot", t.Label(), t.HostServerID)
	}
	var req snapshotRequest
	if err == nil {
		req, err = parseSnapshot(r, t)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := s.snapshotJPEG(r.Context(), t, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-store") // it is a picture of now
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// snapshotRequest is a checked snapshot query: the output whose size and
// placeholder apply (nil: none asked for) and the width (0: unscaled).
type snapshotRequest struct {
	output *model.Target
	width  int
}

func parseSnapshot(r *http.Request, t model.Transmission) (snapshotRequest, error) {
	var req snapshotRequest
	q := r.URL.Query()
	if err := checkQuery(q, "a snapshot", snapshotParams...); err != nil {
		return req, err
	}
	targets := t.Targets()
	if id, ok := q["output"]; ok {
		i := slices.IndexFunc(targets, func(tg model.Target) bool { return tg.OutputID == id[0] })
		enabled := t.EnabledOutputs()
		if i < 0 || len(enabled) == 0 { // Targets has a default output when none is enabled
			if len(enabled) == 0 {
				return req, errorf(http.StatusBadRequest, "Transmission '%s' has no enabled output: leave output out", t.Label())
			}
			ids := make([]string, 0, len(enabled))
			for _, o := range enabled {
				ids = append(ids, o.ID)
			}
			return req, errorf(http.StatusBadRequest, "Transmission '%s' has no enabled output %q: use one of %s, or leave output out", t.Label(), id[0], strings.Join(ids, ", "))
		}
		req.output = &targets[i]
	}
	w, err := parseWidth(q)
	req.width = w
	return req, err
}

// checkQuery refuses query parameters other than allowed, and any given twice.
func checkQuery(q url.Values, what string, allowed ...string) error {
	for name, values := range q {
		if !slices.Contains(allowed, name) {
			return errorf(http.StatusBadRequest, "Unknown query parameter %q: %s takes %s", name, what, strings.Join(allowed, " and "))
		}
		if len(values) > 1 {
			return errorf(http.StatusBadRequest, "Query parameter %q is given %d times: give it once", name, len(values))
		}
	}
	return nil
}

// parseWidth reads the optional width a picture is scaled to (0: none asked).
func parseWidth(q url.Values) (int, error) {
	v, ok := q["width"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < minSnapshotWidth || n > MaxSnapshotWidth {
		return 0, errorf(http.StatusBadRequest, "width must be a whole number of pixels from %d to %d, not %q", minSnapshotWidth, MaxSnapshotWidth, v[0])
	}
	return n, nil
}

// snapshotJPEG encodes what viewers see now at the size req asks for.
func (s *server) snapshotJPEG(ctx context.Context, t model.Transmission, req snapshotRequest) ([]byte, error) {
	src := s.arbiter.Select(t.ID).Frame
	// The base size: the output's, the writer's frame's, or for the
	// placeholder the largest output's (what a pump of it would send).
	baseW, baseH := t.LargestOutput()
	if req.output != nil {
		baseW, baseH = req.output.Width, req.output.Height
	} else if src != nil {
		baseW, baseH = src.Width, src.Height
	}
	if src == nil {
		src = frame.Placeholder(baseW, baseH, t.Placeholder) // cached per output size
	}
	return s.encodeScaled(ctx, src, baseW, baseH, req.width)
}

// encodeScaled encodes src as a JPEG at baseW x baseH, or at width (when
// not 0) with that aspect ratio, contain-resized when the size differs,
// with its share of the decode budget (a picture is built as an upload is).
func (s *server) encodeScaled(ctx context.Context, src *frame.Frame, baseW, baseH, width int) ([]byte, error) {
	w, h := baseW, baseH
	if width > 0 {
		w, h = width, max(1, (width*baseH+baseW/2)/baseW)
		if h > frame.MaxHeight {
			return nil, errorf(http.StatusBadRequest, "width=%d makes this %dx%d picture %d pixels high, above %d: ask for a width of at most %d", width, baseW, baseH, h, frame.MaxHeight, frame.MaxHeight*baseW/baseH)
		}
	}
	cost := frame.JPEGCost(w, h)
	if w != src.Width || h != src.Height {
		cost += 3 * int64(w) * int64(h)
	}
	waitCtx, cancel := context.WithTimeout(ctx, s.ingest.DecodeWait)
	release, err := s.ingest.Decodes.Acquire(waitCtx, cost)
	cancel()
	if err != nil {
		return nil, &httpError{status: http.StatusServiceUnavailable, retryAfter: "1", detail: fmt.Sprintf(
			"The server is building as many frames as its budget allows (%d MiB at once); this picture waited %v: ask again in a second, or ask for a smaller width",
			s.ingest.Decodes.Capacity()>>20, s.ingest.DecodeWait)}
	}
	defer release()
	out := src
	if w != src.Width || h != src.Height {
		out = &frame.Frame{Width: w, Height: h, Data: make([]byte, w*h*3)}
		frame.NewResizer(w, h).Contain(out.Data, src)
	}
	return frame.EncodeJPEG(out, snapshotQuality)
}
