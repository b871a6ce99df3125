package testutil

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// PortSpacing is the least distance between two ports FreePorts returns. It
// is larger than the engine's remap scan (internal/engine portScan, 300), so
// when a test occupies one of the ports, the engine's search for the next
// free port above it does not land on another of them.
const PortSpacing = 301

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 a moment
// ago, each at least PortSpacing away from the others. All of them are held
// until all are found, so the OS cannot hand out one twice.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	for attempt := 0; len(ports) < n; attempt++ {
		if attempt >= 100*n {
			t.Fatalf("no %d free TCP ports %d apart on 127.0.0.1 (found %v)", n, PortSpacing, ports)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		if spaced(port, ports) {
			ports = append(ports, port)
		}
	}
	return ports
}

func spaced(port int, others []int) bool {
	for _, o := range others {
		if d := port - o; d < PortSpacing && -d < PortSpacing {
			return false
		}
	}
	return true
}

// FreeUDPPair returns the addresses ("127.0.0.1:P", "127.0.0.1:P+1") of an
// even UDP port P and its successor, both free a moment ago: an RTP/RTCP pair.
func FreeUDPPair(t testing.TB) (rtp, rtcp string) {
	t.Helper()
	p := FreeRTPPort(t)
	return fmt.Sprintf("127.0.0.1:%d", p), fmt.Sprintf("127.0.0.1:%d", p+1)
}

// FreeRTPPort returns an even UDP port P with P and P+1 free on 127.0.0.1 a
// moment ago: the RTP port of an RTP/RTCP pair (preferred_ports.rtp).
func FreeRTPPort(t testing.TB) int {
	t.Helper()
	for range 50 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		port &^= 1
		a, err1 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		b, err2 := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
		if a != nil {
			a.Close()
		}
		if b != nil {
			b.Close()
		}
		if err1 == nil && err2 == nil {
			return port
		}
	}
	t.Fatal("no free UDP port pair")
	return 0
}

// UDPBindAddresses lists the local addresses of the UDP sockets bound on
// port on this machine ("127.0.0.1", "0.0.0.0", "::", ...), read from
// /proc/net/udp and /proc/net/udp6; it skips the test where those files do
// not exist (not Linux).
func UDPBindAddresses(t testing.TB, port int) []string {
	t.Helper()
	var out []string
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		raw, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			t.Skip("no " + file + ": cannot see which address a UDP socket is bound on")
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			hexIP, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
				continue
			}
			if ip := procIP(hexIP); ip != nil {
				out = append(out, ip.String())
			}
		}
	}
	return out
}

// procIP decodes an address of /proc/net/udp{,6}: 32-bit words in hex,
// each in host (little-endian) byte order.
func procIP(h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}
