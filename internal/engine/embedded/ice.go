package embedded

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/toposync/toposync-streaming/internal/engine"
)

// parseICEServers converts Config.ICEServers to pion's form. An entry pion
// would refuse is left out with a warning: pion refuses a whole peer
// connection for one bad server, which would fail every WHEP offer, and a
// TURN entry without credentials stops its relay gathering for all
// servers. Entries that cannot be written in a Link header are left out
// too, so that every server used is also advertised.
func parseICEServers(urls []string, log *slog.Logger) []webrtc.ICEServer {
	out := []webrtc.ICEServer{}
	for _, u := range urls {
		srv := engine.ParseICEServer(u)
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
		if why != "" {
			// the URL without credentials: they never go to the log
			log.Warn("[WebRTC] ICE server ignored", "url", srv.URL, "reason", why)
			continue
		}
		out = append(out, webrtc.ICEServer{URLs: []string{srv.URL}, Username: srv.Username, Credential: srv.Password})
	}
	return out
}

func hasCTL(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// setICELinks advertises the ICE servers to a WHEP client as Link headers
// (RFC 9725 §4.6), the way MediaMTX does:
//
//	Link: <stun:host:port>; rel="ice-server"
//	Link: <turn:host:port>; rel="ice-server"; username="u"; credential="p"; credential-type="password"
func setICELinks(h http.Header, servers []webrtc.ICEServer) {
	for _, s := range servers {
		link := "<" + s.URLs[0] + `>; rel="ice-server"`
		if pass, _ := s.Credential.(string); s.Username != "" {
			link += `; username="` + quoteParam(s.Username) + `"; credential="` + quoteParam(pass) + `"; credential-type="password"`
		}
		h.Add("Link", link)
	}
}

// quoteParam escapes a Link parameter value for a quoted-string
// (RFC 9110 §5.6.4); parseICEServers has ruled out control characters.
var quoteParam = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace
