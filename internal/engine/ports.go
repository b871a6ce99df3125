package engine

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
)

// portScan is how far above a taken preferred port the resolver looks.
const portScan = 300

// ResolvePorts picks the ports to listen on. For each protocol, in the order
// rtsp, hls, webrtc, api: the first bindable of the candidates (the previous
// actual port first when the preference did not change, so a restart keeps
// its ports; then the preferred one), else the next free port above the
// preferred one, else one the OS assigns. Every remap adds a warning such as
// "RTSP port 8554 unavailable; using 8555.". The API port is always bound on
// loopback. Last the UDP pair of RTSP over UDP (see resolveRTPPair), on the
// bind host too, with a warning such as "RTP/RTCP port pair 50000/50001
// unavailable; using 50002/50003.".
func ResolvePorts(bindHost string, preferred model.Ports, previous *model.Ports) (model.Ports, []string, error) {
	var out, last model.Ports
	if previous != nil {
		last = *previous
	}
	var warnings []string
	taken := map[int]bool{}
	for _, p := range []struct {
		label               string
		preferred, previous int
		host                string
		dst                 *int
	}{
		{"RTSP", preferred.RTSP, last.RTSP, bindHost, &out.RTSP},
		{"HLS", preferred.HLS, last.HLS, bindHost, &out.HLS},
		{"WebRTC", preferred.WebRTC, last.WebRTC, bindHost, &out.WebRTC},
		{"API", preferred.API, last.API, "127.0.0.1", &out.API},
	} {
		port, err := pickTCP(p.host, p.preferred, p.previous, taken)
		if err != nil {
			return out, warnings, fmt.Errorf("%s port: %w", p.label, err)
		}
		if port != p.preferred {
			warnings = append(warnings, fmt.Sprintf("%s port %d unavailable; using %d.", p.label, p.preferred, port))
		}
		taken[port] = true
		*p.dst = port
	}
	rtp, err := resolveRTPPair(bindHost, preferred.RTP, last.RTP)
	if err != nil {
		return out, warnings, fmt.Errorf("RTP/RTCP ports: %w", err)
	}
	if rtp != preferred.RTP {
		warnings = append(warnings, fmt.Sprintf("RTP/RTCP port pair %d/%d unavailable; using %d/%d.", preferred.RTP, preferred.RTP+1, rtp, rtp+1))
	}
	out.RTP = rtp
	return out, warnings, nil
}

func pickTCP(host string, preferred, previous int, taken map[int]bool) (int, error) {
	for _, c := range []int{previous, preferred} {
		if c > 0 && !taken[c] && tcpFree(host, c) {
			return c, nil
		}
	}
	for c := max(1024, preferred+1); c < min(65536, preferred+portScan); c++ {
		if !taken[c] && tcpFree(host, c) {
			return c, nil
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("no free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func tcpFree(host string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// resolveRTPPair picks an even UDP port p with p+1 also free on host, for
// RTSP over UDP (RTP and RTCP): the previous pair first, then preferred,
// then upward in steps of two.
func resolveRTPPair(host string, preferred, previous int) (int, error) {
	free := func(p int) bool { return p > 0 && p%2 == 0 && p < 65535 && udpFree(host, p) && udpFree(host, p+1) }
	for _, c := range []int{previous, preferred} {
		if free(c) {
			return c, nil
		}
	}
	for c := preferred + 2; c < preferred+2000 && c < 65534; c += 2 {
		if free(c) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("no free UDP port pair from %d to %d on %s", preferred, preferred+2000, host)
}

func udpFree(host string, port int) bool {
	c, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// waitPortsFree waits up to within until every port of ports is bindable
// on host (after the process that held them was stopped).
func waitPortsFree(host string, ports model.Ports, within time.Duration) {
	deadline := time.Now().Add(within)
	for _, p := range []int{ports.RTSP, ports.HLS, ports.WebRTC} {
		for !tcpFree(host, p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for !tcpFree("127.0.0.1", ports.API) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for ports.RTP > 0 && !(udpFree(host, ports.RTP) && udpFree(host, ports.RTP+1)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}
