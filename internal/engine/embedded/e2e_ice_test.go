package embedded

import (
	"context"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
)

// silentUDP is a UDP socket that receives and never answers: a STUN or
// TURN server that does not respond (a firewalled or dead one).
func silentUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

// TestWHEPUnreachableICEServers: STUN and TURN servers that never answer do
// not hold up WHEP. The answer comes within a second with host candidates
// (it took 5 s and was a 400 "ICE gathering did not complete" before), a
// pion client plays, and the ICE servers are advertised as Link headers
// (RFC 9725 §4.6) on the 201 and on the endpoint's OPTIONS, credentials
// quoted.
func TestWHEPUnreachableICEServers(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	dead := silentUDP(t)
	ts := newTestServer(t, []PathConfig{{
		Name: "cam", ReadUser: readUser, ReadPass: readPass, PublishUser: pubUser, PublishPass: pubPass,
	}}, func(c *Config) {
		c.ICEServers = []string{"stun:" + dead, `turn:alice:pa"s\s@` + dead + "?transport=udp"}
	})
	wantLinks := []string{
		"<stun:" + dead + `>; rel="ice-server"`,
		"<turn:" + dead + `?transport=udp>; rel="ice-server"; username="alice"; credential="pa\"s\\s"; credential-type="password"`,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	startFFmpeg(t, rtspURL(ts.rtspAddr, pubUser, pubPass, "cam"))
	ts.waitReady(t, "cam", 15*time.Second)
	whepURL := "http://" + ts.webrtcAddr + "/cam/whep"

	// a browser's offer: answered at once, host candidates, Link headers
	offer, err := os.ReadFile("testdata/whep/chromium.sdp")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, answer, err := whepPost(ctx, whepURL, readUser, readPass, string(offer))
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST after %v: %d %s", took, res.StatusCode, answer)
	}
	t.Logf("answer after %v", took)
	if took > time.Second {
		t.Errorf("answer took %v, want < 1 s", took)
	}
	if !strings.Contains(answer, " typ host") {
		t.Errorf("answer without host candidates:\n%s", answer)
	}
	if got := res.Header.Values("Link"); !slices.Equal(got, wantLinks) {
		t.Errorf("POST Link headers:\n got %q\nwant %q", got, wantLinks)
	}
	if !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Link") {
		t.Errorf("Link not exposed to browsers: %v", res.Header)
	}
	del, _ := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+ts.webrtcAddr+res.Header.Get("Location"), nil)
	del.SetBasicAuth(readUser, readPass)
	if res, err := testHTTP.Do(del); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %v %v", res, err)
	} else {
		res.Body.Close()
	}

	// a real client connects and gets video
	wc, err := startWHEP(t, ctx, ts.webrtcAddr, "cam", readUser, readPass, false)
	if err != nil {
		t.Fatal(err)
	}
	st := wc.Stats()
	t.Logf("pion client: answered after %v", st.Answered.Sub(st.Started))
	if d := st.Answered.Sub(st.Started); d > time.Second {
		t.Errorf("pion client answered after %v, want < 1 s", d)
	}
	select {
	case <-wc.FirstIDR():
	case <-ctx.Done():
		t.Fatalf("no decodable IDR over WHEP (stats %+v)", wc.Stats())
	}

	// OPTIONS on the endpoint: a WHEP client's gets the servers behind the
	// read credentials, a CORS preflight only the CORS headers
	options := func(user, pass string, preflight bool) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, whepURL, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if preflight {
			req.Header.Set("Origin", "http://dashboard.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		res, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := options(readUser, readPass, false); res.StatusCode != http.StatusNoContent || !slices.Equal(res.Header.Values("Link"), wantLinks) {
		t.Errorf("OPTIONS with credentials: %d, Link %q", res.StatusCode, res.Header.Values("Link"))
	}
	if res := options("", "", false); res.StatusCode != http.StatusUnauthorized || len(res.Header.Values("Link")) != 0 {
		t.Errorf("OPTIONS without credentials: %d, Link %q", res.StatusCode, res.Header.Values("Link"))
	}
	if res := options("", "", true); res.StatusCode != http.StatusNoContent || len(res.Header.Values("Link")) != 0 ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
}
