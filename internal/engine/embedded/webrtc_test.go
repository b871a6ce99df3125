package embedded

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// fakePublisher makes a path of a running server ready with an in-process
// sink fed one IDR (no RTSP session, no ffmpeg): enough for WHEP offers to
// be answered.
func fakePublisher(t testing.TB, ts *testServer, name string) {
	t.Helper()
	sink, err := ts.OpenSink(name)
	if err != nil {
		t.Fatalf("path %s: %v", name, err)
	}
	t.Cleanup(sink.Close)
	if err := sink.WriteAccessUnit(0, [][]byte{testSPS, testPPS, testIDR}); err != nil {
		t.Fatal(err)
	}
	ts.waitReady(t, name, 5*time.Second)
}

// postOffer sends an offer straight to the WHEP handler.
func postOffer(ctx context.Context, ts *testServer, path, offer string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/"+path+"/whep", strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	rec := httptest.NewRecorder()
	ts.whep.ServeHTTP(rec, req)
	return rec
}

// TestWHEPInvalidICEServers: a bad entry in the ICE servers (a TURN URL
// without credentials, a malformed URL) is left out with a warning instead
// of failing every WHEP offer (pion refuses the whole peer connection), and
// only the servers in use are advertised.
func TestWHEPInvalidICEServers(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	dead := silentUDP(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam"}}, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.ICEServers = []string{
			"turn:" + dead,         // no credentials
			"stun:",                // no host
			"stun:" + dead + "?x",  // STUN takes no query
			"turn:bob:s3cr3t@ <x>", // not a URL
			"stun:" + dead,
		}
	})
	fakePublisher(t, ts, "cam")
	offer, err := os.ReadFile("testdata/whep/chromium.sdp")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := postOffer(ctx, ts, "cam", string(offer))
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	if got, want := rec.Header().Values("Link"), []string{"<stun:" + dead + `>; rel="ice-server"`}; !slices.Equal(got, want) {
		t.Errorf("Link %q, want %q", got, want)
	}
	for _, u := range []string{"turn:" + dead + " ", "stun: ", "stun:" + dead + "?x ", `"turn: <x>"`} {
		if !strings.Contains(logs.String(), `msg="[WebRTC] ICE server ignored" component=engine.embedded url=`+u) {
			t.Errorf("no warning about %s in:\n%s", u, logs)
		}
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Errorf("a TURN password reached the log:\n%s", logs)
	}
}

func TestSetICELinks(t *testing.T) {
	h := http.Header{}
	setICELinks(h, []webrtc.ICEServer{
		{URLs: []string{"stun:stun.example:3478"}},
		{URLs: []string{"turns:turn.example:5349?transport=tcp"}, Username: `a\b`, Credential: `p"w`},
	})
	want := []string{
		`<stun:stun.example:3478>; rel="ice-server"`,
		`<turns:turn.example:5349?transport=tcp>; rel="ice-server"; username="a\\b"; credential="p\"w"; credential-type="password"`,
	}
	if got := h.Values("Link"); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// FuzzWHEPOffer posts offers to the WHEP handler of a running embedded
// engine with a ready path. Whatever the offer, the handler answers
// within a bounded time with 201 and an answer holding host candidates, or
// with a 4xx that says why; it never panics. Seeds: browser offers in
// testdata/whep, an ffmpeg RTSP SDP, and broken variants of them.
func FuzzWHEPOffer(f *testing.F) {
	files, _ := filepath.Glob("testdata/whep/*.sdp")
	var chromium string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
		if strings.HasSuffix(name, "chromium.sdp") {
			chromium = string(b)
		}
	}
	if chromium == "" {
		f.Fatal("testdata/whep/chromium.sdp missing")
	}
	lf := strings.ReplaceAll(chromium, "\r\n", "\n")
	dropLines := func(prefix string) string {
		var out []string
		for _, l := range strings.Split(chromium, "\r\n") {
			if !strings.HasPrefix(l, prefix) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\r\n")
	}
	for _, s := range []string{
		"", "v=0\r\n", "\x00\xff", lf, chromium[:len(chromium)/2],
		dropLines("a=fingerprint"), dropLines("a=ice-ufrag"), dropLines("a=rtpmap:106"),
		strings.ReplaceAll(chromium, "H264", "H265"),
		strings.ReplaceAll(chromium, "recvonly", "sendonly"),
		strings.ReplaceAll(chromium, "a=mid:0", "a=mid:"),
		strings.ReplaceAll(chromium, "m=video 9", "m=video 0"),
		strings.ReplaceAll(chromium, "UDP/TLS/RTP/SAVPF", "RTP/AVP"),
		strings.ReplaceAll(chromium, "127.0.0.1 9 typ host", "999.1.1.1 99999 typ bogus"),
		strings.ReplaceAll(chromium, "a=group:BUNDLE 0 1", "a=group:BUNDLE 7"),
		strings.Repeat("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n", 2000),
	} {
		f.Add(s)
	}

	ts := newTestServer(f, []PathConfig{{Name: "fz"}}, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	fakePublisher(f, ts, "fz")
	f.Fuzz(func(t *testing.T, offer string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		rec := postOffer(ctx, ts, "fz", offer)
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("answered after %v", took)
		}
		switch rec.Code {
		case http.StatusCreated:
			sd := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: rec.Body.String()}
			if _, err := sd.Unmarshal(); err != nil || !strings.Contains(sd.SDP, " typ host") {
				t.Fatalf("201 with a bad answer (%v):\n%s", err, sd.SDP)
			}
			req := httptest.NewRequestWithContext(ctx, http.MethodDelete, rec.Header().Get("Location"), nil)
			del := httptest.NewRecorder()
			ts.whep.ServeHTTP(del, req)
			if del.Code != http.StatusOK {
				t.Fatalf("DELETE %s: %d", rec.Header().Get("Location"), del.Code)
			}
		case http.StatusBadRequest:
			if body, _ := io.ReadAll(rec.Body); len(bytes.TrimSpace(body)) <= len("400 ") {
				t.Fatalf("400 without a reason: %q", body)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// TestWHEPAnsweredBeforeTheFirstIDR: a WHEP offer to a path whose publisher
// records but has sent nothing yet (an encoder that just started) is
// answered at once and the peer connects, so that ICE and DTLS overlap the
// encoder's first frame; the IDR then reaches the reader when it comes. A
// publisher that never sends an IDR ends the session after the reader hold.
func TestWHEPAnsweredBeforeTheFirstIDR(t *testing.T) {
	ts := newTestServer(t, []PathConfig{{Name: "cam"}, {Name: "mute"}}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sink, err := ts.OpenSink("cam")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()

	d := whep.Dialer{HTTPClient: testHTTP}
	w, err := d.Dial(ctx, "http://"+ts.webrtcAddr+"/cam/whep", "", "")
	if err != nil {
		t.Fatalf("offer to a recording path with no IDR yet: %v", err)
	}
	defer w.Close()
	testutil.Eventually(t, 10*time.Second, "the peer connected", func() bool { return !w.Stats().Connected.IsZero() })
	if pi, _ := ts.pathInfo("cam"); pi.Ready || !hasReaderType(pi.Readers, ReaderWebRTC) {
		t.Fatalf("before the first IDR: ready=%v readers=%v", pi.Ready, pi.Readers)
	}
	if err := sink.WriteAccessUnit(0, [][]byte{testSPS, testPPS, testIDR}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.FirstIDR():
	case <-ctx.Done():
		t.Fatal("the IDR written after the answer did not reach the reader")
	}

	ts.SetReaderHold(time.Second)
	mute, err := ts.OpenSink("mute")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	m, err := d.Dial(ctx, "http://"+ts.webrtcAddr+"/mute/whep", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	testutil.Eventually(t, 15*time.Second, "the session of a publisher with no IDR closed", func() bool {
		pi, _ := ts.pathInfo("mute")
		return !hasReaderType(pi.Readers, ReaderWebRTC) && !m.Stats().Connected.IsZero()
	})
}
