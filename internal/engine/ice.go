package engine

import (
	"log/slog"
	"strings"

	"github.com/pion/stun/v4"
)

// ICEServer is one STUN/TURN server of the settings, with the credentials
// a "turn:user:pass@host:port" URL carries split out.
type ICEServer struct {
	URL, Username, Password string
}

// ParseICEServer splits the credentials out of an ICE server URL; a URL
// without them is returned as it is.
func ParseICEServer(u string) ICEServer {
	if i := strings.LastIndexByte(u, '@'); i > 0 {
		if scheme, rest, ok := strings.Cut(u[:i], ":"); ok {
			if user, pass, ok := strings.Cut(rest, ":"); ok {
				return ICEServer{URL: scheme + ":" + u[i+1:], Username: user, Password: pass}
			}
		}
	}
	return ICEServer{URL: u}
}

// UsableICEServers parses ICE server URLs (see ParseICEServer) and keeps
// those a WebRTC stack takes, in order. Both engine kinds run pion, which
// refuses a whole peer connection for one TURN server without credentials
// or one malformed URL: kept, such an entry fails every WHEP offer. URLs
// that cannot be written in a Link header (RFC 9725 §4.6) are left out too,
// so that every server in use is also advertised. Each entry left out is
// logged on log (when not nil) as a warning, without its credentials.
func UsableICEServers(urls []string, log *slog.Logger) []ICEServer {
	out := []ICEServer{}
	for _, u := range urls {
		srv := ParseICEServer(u)
		uri, err := stun.ParseURI(srv.URL)
		var why string
		switch {
		case err != nil:
			why = err.Error()
		case (uri.Scheme == stun.SchemeTypeTURN || uri.Scheme == stun.SchemeTypeTURNS) && (srv.Username == "" || srv.Password == ""):
			why = "a TURN server needs credentials (turn:user:password@host:port)"
		case strings.ContainsAny(srv.URL, " <>\"") || hasCTL(srv.URL) || hasCTL(srv.Username) || hasCTL(srv.Password):
			why = "spaces, <, >, quotes or control characters"
		}
		if why == "" {
			out = append(out, srv)
		} else if log != nil {
			log.Warn("[WebRTC] ICE server ignored", "url", srv.URL, "reason", why)
		}
	}
	return out
}

func hasCTL(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
