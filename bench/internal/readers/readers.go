// Package readers holds the in-process stream readers the bench harnesses
// share: a gortsplib RTSP reader and an HLS first-segment fetch.
package readers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

// RTSP is a gortsplib reader over TCP that depacketizes until its first
// decodable frame and counts packets, frames and losses after it.
type RTSP struct {
	c     *gortsplib.Client
	start time.Time

	mu        sync.Mutex
	described time.Time
	firstPkt  time.Time
	firstIDR  time.Time
	packets   uint64
	frames    uint64 // packets with the marker bit
	lost      uint64
	idrCh     chan struct{}
}

// DialRTSP connects a gortsplib reader over TCP and returns once it plays
// (a held DESCRIBE blocks it). sent, when set, is called when the DESCRIBE
// request goes out.
func DialRTSP(rawURL string, sent func()) (*RTSP, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	tcp := gortsplib.ProtocolTCP
	r := &RTSP{start: time.Now(), idrCh: make(chan struct{})}
	r.c = &gortsplib.Client{
		Scheme: u.Scheme, Host: u.Host, Protocol: &tcp, ReadTimeout: 20 * time.Second,
		OnRequest: func(req *base.Request) {
			if req.Method == base.Describe && sent != nil {
				sent()
			}
		},
		OnPacketsLost: func(lost uint64) {
			r.mu.Lock()
			r.lost += lost
			r.mu.Unlock()
		},
		OnDecodeError: func(error) {},
	}
	if err := r.c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.c.Describe(u)
	if err != nil {
		r.c.Close()
		return nil, err
	}
	r.mu.Lock()
	r.described = time.Now()
	r.mu.Unlock()
	var f *format.H264
	medi := desc.FindFormat(&f)
	if medi == nil {
		r.c.Close()
		return nil, errors.New("no H.264 track")
	}
	dec, err := f.CreateDecoder()
	if err != nil {
		r.c.Close()
		return nil, err
	}
	if _, err := r.c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		r.c.Close()
		return nil, err
	}
	gotIDR := false // read goroutine only
	r.c.OnPacketRTP(medi, f, func(pkt *rtp.Packet) {
		now := time.Now()
		r.mu.Lock()
		r.packets++
		if pkt.Marker {
			r.frames++
		}
		if r.firstPkt.IsZero() {
			r.firstPkt = now
		}
		r.mu.Unlock()
		if gotIDR {
			return // depacketize only until the first decodable frame
		}
		au, err := dec.Decode(pkt)
		if err != nil || !h264.IsRandomAccess(au) {
			return
		}
		gotIDR = true
		r.mu.Lock()
		r.firstIDR = now
		r.mu.Unlock()
		close(r.idrCh)
	})
	if _, err := r.c.Play(nil); err != nil {
		r.c.Close()
		return nil, err
	}
	return r, nil
}

// Snapshot is the packets, frames (marker bits) and lost packets so far.
func (r *RTSP) Snapshot() (packets, frames, lost uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets, r.frames, r.lost
}

// IDR is closed when the first decodable frame is complete.
func (r *RTSP) IDR() <-chan struct{} { return r.idrCh }

// Times are when DESCRIBE was answered, the first RTP packet came and the
// first decodable frame was complete (zero until they happen).
func (r *RTSP) Times() (described, firstPkt, firstIDR time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.described, r.firstPkt, r.firstIDR
}

// Close disconnects.
func (r *RTSP) Close() { r.c.Close() }

// HLSFirstSegment fetches indexURL, the media playlist it names and the
// first segment of that playlist, as a new client (own User-Agent), and
// returns the time from the first request until the segment is downloaded.
// A 404, 5xx or empty answer (an on-demand stream still starting) is asked again
// every 20 ms until ctx ends.
func HLSFirstSegment(ctx context.Context, indexURL, ua string) (time.Duration, error) {
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(u string) ([]byte, error) {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("User-Agent", ua)
			res, err := client.Do(req)
			if err != nil {
				return nil, err
			}
			body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
			res.Body.Close()
			if err != nil {
				return nil, err
			}
			if res.StatusCode == http.StatusOK && len(body) > 0 {
				return body, nil
			}
			// 404 and 5xx come from a muxer that is still starting
			// (MediaMTX answers 500 while its on-demand source connects).
			if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusOK && res.StatusCode < 500 {
				return nil, fmt.Errorf("GET %s: %d", u, res.StatusCode)
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("GET %s: %d (%d bytes) until %w", u, res.StatusCode, len(body), ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	firstURI := func(playlist []byte) string {
		for _, l := range strings.Split(string(playlist), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				return l
			}
		}
		return ""
	}
	t0 := time.Now()
	idx, err := get(indexURL)
	if err != nil {
		return 0, err
	}
	baseURL := indexURL[:strings.LastIndexByte(indexURL, '/')+1]
	media := idx
	if strings.Contains(string(idx), "#EXT-X-STREAM-INF") {
		uri := firstURI(idx)
		if uri == "" {
			return 0, errors.New("multivariant playlist without variant")
		}
		if media, err = get(baseURL + uri); err != nil {
			return 0, err
		}
	}
	seg := firstURI(media)
	if seg == "" {
		return 0, fmt.Errorf("media playlist without segment:\n%s", media)
	}
	if _, err := get(baseURL + seg); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}
