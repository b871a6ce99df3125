package engine

import "testing"

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
