package engine

import (
	"bytes"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestParseICEServer(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ICEServer
	}{
		{"stun:stun.example:3478", ICEServer{URL: "stun:stun.example:3478"}},
		{"turn:alice:s3:cr@t@turn.example:3478", ICEServer{URL: "turn:turn.example:3478", Username: "alice", Password: "s3:cr@t"}},
		{"turns:bob:pw@turn.example:5349?transport=tcp", ICEServer{URL: "turns:turn.example:5349?transport=tcp", Username: "bob", Password: "pw"}},
		{"turn:nouser@turn.example", ICEServer{URL: "turn:nouser@turn.example"}}, // no user:pass pair: left alone
	} {
		if got := ParseICEServer(c.in); got != c.want {
			t.Errorf("ParseICEServer(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestUsableICEServers(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	got := UsableICEServers([]string{
		"stun:stun.example:3478",
		"turn:turn.example:3478",               // no credentials: pion refuses the peer connection
		"turn:alice:@turn.example:3478",        // no password: pion stops relay gathering
		"stun:",                                // no host
		"stun:stun.example:3478?transport=tcp", // STUN takes no query
		"ftp://x",                              // not an ICE URL
		"turn:bob:s3cr3t@<turn.example>",       // breaks a Link header
		"turn:bob:new\nline@turn.example",      // idem
		"turns:carol:pw@turn.example:5349?transport=tcp",
	}, log)
	want := []ICEServer{
		{URL: "stun:stun.example:3478"},
		{URL: "turns:turn.example:5349?transport=tcp", Username: "carol", Password: "pw"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if n := strings.Count(logs.String(), "ICE server ignored"); n != 7 {
		t.Errorf("%d warnings, want 7:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "s3cr3t") || strings.Contains(logs.String(), "new") {
		t.Errorf("credentials in the log:\n%s", logs.String())
	}
	if got := UsableICEServers([]string{"turn:x"}, nil); len(got) != 0 {
		t.Errorf("nil logger: %+v", got)
	}
}
