package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/testutil"
	"github.com/toposync/toposync-streaming/internal/whep"
)

// TestWHEPUnreachableICEServers: with STUN and TURN servers that never
// answer in webrtc_ice_servers, both engine kinds advertise them alike as
// Link headers (RFC 9725 §4.6) and keep serving WHEP. The embedded engine
// answers within 1 s; MediaMTX within 1.5 s with a dead STUN server (its
// STUN gather timeout is set to 1 s) and within its 10 s handshake timeout
// with a dead TURN server (its TURN allocation waits about 8 s; nothing in
// its configuration shortens that), where a reader may need a second
// attempt (see play).
func TestWHEPUnreachableICEServers(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	c, err := net.ListenPacket("udp4", "127.0.0.1:0") // receives, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dead := c.LocalAddr().String()
	for kind, env := range conformanceKinds(t) {
		t.Run(kind, func(t *testing.T) { whepUnreachableICE(t, kind, env, dead) })
	}
}

func whepUnreachableICE(t *testing.T, kind string, env []string, dead string) {
	s := startService(t, t.TempDir(), env...)
	setICE := func(urls ...string) {
		body, _ := json.Marshal(map[string]any{"engine": map[string]any{"webrtc_ice_servers": urls}})
		if status, out := s.call("PATCH", "/settings", string(body)); status != 200 {
			t.Fatalf("patch: %d %v", status, out)
		}
	}
	stun, turn := "stun:"+dead, `turn:alice:pa"s\s@`+dead
	setICE(stun)
	s.runEngine(kind, testutil.FreePorts(t, 4))
	id := s.create(`{"name":"Ice","path":"ice","outputs":[{"id":"webrtc","protocol":"webrtc","resolution":{"width":320,"height":240},"fps_limit":10,
		"latency_profile":"ultra_low","authentication":{"enabled":true,"username":"viewer","password":"s3cret"}}]}`)
	_, out := s.call("GET", "/transmissions/"+id+"/urls", "")
	url := out.(map[string]any)["outputs"].([]any)[0].(map[string]any)["url"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	testutil.Eventually(t, 10*time.Second, "the WHEP path configured", func() bool {
		code, _ := whepOptions(t, ctx, url, "viewer", "s3cret")
		return code == http.StatusNoContent
	})

	// play waits for a keyframe like a player: against MediaMTX with a dead
	// TURN server one session in a few never connects (MediaMTX's ICE
	// agent starts checking while its answer waits 8 s for the TURN
	// allocation, gives up on the pairs before the client has the answer,
	// and the session hits its 10 s handshake timeout), so a second
	// attempt is allowed there, as the dashboard's player makes one.
	play := func(what string, attempts int) *whep.Session {
		t.Helper()
		for attempt := 1; ; attempt++ {
			sess, err := whep.Dial(ctx, url, "viewer", "s3cret")
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			wait := time.NewTimer(20 * time.Second)
			select {
			case <-sess.FirstIDR():
				wait.Stop()
				return sess
			case <-wait.C:
			case <-ctx.Done():
			}
			sess.Close()
			if attempt == attempts || ctx.Err() != nil {
				t.Fatalf("%s: no keyframe over WHEP after %d attempt(s) (stats %+v)", what, attempt, sess.Stats())
			}
			t.Logf("%s: attempt %d got no keyframe in 20 s (stats %+v); trying again", what, attempt, sess.Stats())
		}
	}
	check := func(what string, within time.Duration, attempts int, wantLinks []string) {
		t.Helper()
		if _, got := whepOptions(t, ctx, url, "viewer", "s3cret"); !slices.Equal(got, wantLinks) {
			t.Errorf("%s: OPTIONS Link headers\n got %q\nwant %q", what, got, wantLinks)
		}
		// a first reader starts the stream (its POST waits for the
		// publisher); the one measured joins it
		first := play(what+", first reader", attempts)
		defer first.Close()
		sess := play(what, attempts)
		defer sess.Close()
		took := sess.Stats().Answered.Sub(sess.Stats().Started)
		t.Logf("%s: %s answered after %v", kind, what, took)
		if took > within {
			t.Errorf("%s: answered after %v, want < %v", what, took, within)
		}
	}
	stunLink := "<" + stun + `>; rel="ice-server"`
	turnLink := "<turn:" + dead + `>; rel="ice-server"; username="alice"; credential="pa\"s\\s"; credential-type="password"`
	embedded := kind == "embedded"
	check("dead STUN", map[bool]time.Duration{true: time.Second, false: 1500 * time.Millisecond}[embedded], 1, []string{stunLink})

	setICE(stun, turn)
	// MediaMTX applies new ICE servers by restarting its WebRTC server and,
	// with it, its API; with a dead TURN server that restart has taken
	// over 20 s on a loaded machine (our patch times out and is retried).
	advertised := map[bool]time.Duration{true: 20 * time.Second, false: 60 * time.Second}[embedded]
	testutil.Eventually(t, advertised, "the TURN server advertised", func() bool {
		_, links := whepOptions(t, ctx, url, "viewer", "s3cret")
		return len(links) == 2
	})
	check("dead STUN and TURN", map[bool]time.Duration{true: time.Second, false: 10 * time.Second}[embedded], map[bool]int{true: 1, false: 2}[embedded], []string{stunLink, turnLink})

	if code, got := whepOptions(t, ctx, url, "", ""); code != http.StatusUnauthorized || len(got) != 0 {
		t.Errorf("OPTIONS without the read credentials: %d, Link %q", code, got)
	}
}

// whepOptions sends a WHEP client's OPTIONS (not a CORS preflight) and
// returns the status and the Link headers.
func whepOptions(t *testing.T, ctx context.Context, url, user, pass string) (int, []string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodOptions, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Values("Link")
}
