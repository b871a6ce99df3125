package testutil

import (
	"fmt"
	"net"
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
			return fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port+1)
		}
	}
	t.Fatal("no free UDP port pair")
	return "", ""
}
