package embedded

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// cleanPathName trims slashes around a path name.
func cleanPathName(name string) string {
	return strings.Trim(name, "/")
}

// isLoopback reports whether a remote address is a loopback address.
func isLoopback(addr net.Addr) bool {
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		host, _, err := net.SplitHostPort(addr.String())
		if err != nil {
			return false
		}
		ip = net.ParseIP(host)
	}
	return ip != nil && ip.IsLoopback()
}

// checkBasic reports whether an HTTP request carries the read credentials of
// a path (always true when the path has none). On failure it writes 401 with
// a Basic challenge.
func checkBasic(w http.ResponseWriter, r *http.Request, pc PathConfig) bool {
	if !pc.readAuth() {
		return true
	}
	u, p, ok := r.BasicAuth()
	if ok && subtle.ConstantTimeCompare([]byte(u), []byte(pc.ReadUser)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(pc.ReadPass)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="toposync-streaming"`)
	http.Error(w, "401 unauthorized: this stream needs the read user and password", http.StatusUnauthorized)
	return false
}

// setCORS allows any origin (credentials travel in the Authorization header,
// never in cookies).
func setCORS(w http.ResponseWriter, methods string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag")
}

// remoteIP returns the IP of an HTTP client.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
