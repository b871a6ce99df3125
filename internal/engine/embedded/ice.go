package embedded

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/toposync/toposync-streaming/internal/engine"
)

// parseICEServers converts Config.ICEServers to pion's form, leaving out
// with a warning the entries that would fail every offer (see
// engine.UsableICEServers).
func parseICEServers(urls []string, log *slog.Logger) []webrtc.ICEServer {
	out := []webrtc.ICEServer{}
	for _, srv := range engine.UsableICEServers(urls, log) {
		out = append(out, webrtc.ICEServer{URLs: []string{srv.URL}, Username: srv.Username, Credential: srv.Password})
	}
	return out
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
// (RFC 9110 §5.6.4); engine.UsableICEServers has ruled out control
// characters.
var quoteParam = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace
