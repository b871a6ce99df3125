package embedded

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
	"sync"
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

// demandQueue delivers demand events without ever blocking the caller: the
// latest state per path is kept and a single goroutine hands it over, skipping
// states the consumer already has.
type demandQueue struct {
	out chan DemandEvent

	mu        sync.Mutex
	order     []string        // paths whose latest state may be undelivered
	queued    map[string]bool // path is in order
	latest    map[string]bool // latest state per path
	delivered map[string]bool // last state handed to the consumer
	wake      chan struct{}
}

func newDemandQueue() *demandQueue {
	return &demandQueue{
		out:       make(chan DemandEvent),
		queued:    map[string]bool{},
		latest:    map[string]bool{},
		delivered: map[string]bool{},
		wake:      make(chan struct{}, 1),
	}
}

// set records the demand state of a path. It never blocks.
func (q *demandQueue) set(path string, demanded bool) {
	q.mu.Lock()
	q.latest[path] = demanded
	if !q.queued[path] {
		q.queued[path] = true
		q.order = append(q.order, path)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *demandQueue) run(ctx context.Context) {
	for {
		q.mu.Lock()
		var ev *DemandEvent
		for ev == nil && len(q.order) > 0 {
			name := q.order[0]
			q.order = q.order[1:]
			q.queued[name] = false
			if st := q.latest[name]; st != q.delivered[name] {
				ev = &DemandEvent{Path: name, Demanded: st}
			}
		}
		q.mu.Unlock()
		if ev == nil {
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case q.out <- *ev:
			q.mu.Lock()
			q.delivered[ev.Path] = ev.Demanded
			q.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// close closes the output channel; run must have returned.
func (q *demandQueue) close() { close(q.out) }
