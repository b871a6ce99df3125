package testutil

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeTB records how a helper ended the test: Fatalf and Skip stop the
// calling goroutine as the real ones do.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any) {
	f.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB in its own goroutine and returns the fake.
func run(fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestEventually(t *testing.T) {
	start := time.Now()
	took := Eventually(t, time.Second, "a tenth of a second", func() bool { return time.Since(start) > 100*time.Millisecond })
	if took < 100*time.Millisecond || took > 500*time.Millisecond {
		t.Errorf("Eventually took %v, want about 100ms", took)
	}
	f := run(func(tb testing.TB) { Eventually(tb, 50*time.Millisecond, "never", func() bool { return false }) })
	if f.fatal != "timed out after 50ms waiting for never" {
		t.Errorf("fatal = %q", f.fatal)
	}
}

func TestFreePorts(t *testing.T) {
	ports := FreePorts(t, 6)
	if len(ports) != 6 {
		t.Fatalf("got %d ports", len(ports))
	}
	for i, a := range ports {
		for _, b := range ports[i+1:] {
			if d := max(a-b, b-a); d < PortSpacing {
				t.Errorf("ports %d and %d are only %d apart", a, b, d)
			}
		}
	}
}

func TestFreeUDPPair(t *testing.T) {
	rtp, rtcp := FreeUDPPair(t)
	var a, b int
	if _, err := fmt.Sscanf(rtp, "127.0.0.1:%d", &a); err != nil {
		t.Fatal(rtp, err)
	}
	if _, err := fmt.Sscanf(rtcp, "127.0.0.1:%d", &b); err != nil {
		t.Fatal(rtcp, err)
	}
	if a%2 != 0 || b != a+1 {
		t.Errorf("pair %s %s is not even/odd", rtp, rtcp)
	}
}

func TestUDPBindAddresses(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	if got := UDPBindAddresses(t, port); !slices.Equal(got, []string{"127.0.0.1"}) {
		t.Errorf("bound on %q, want 127.0.0.1", got)
	}
	c.Close()
	if got := UDPBindAddresses(t, port); len(got) != 0 {
		t.Errorf("closed socket still listed: %q", got)
	}
}

func TestRequireCommandSkipsOutsideCIAndFailsInCI(t *testing.T) {
	const missing = "no-such-tool-for-testutil"
	t.Setenv("CI", "")
	f := run(func(tb testing.TB) { RequireCommand(tb, "install it", missing) })
	if f.fatal != "" || !strings.Contains(f.skip, missing+" not on PATH (install it)") {
		t.Errorf("outside CI: fatal %q, skip %q", f.fatal, f.skip)
	}
	t.Setenv("CI", "true")
	f = run(func(tb testing.TB) { RequireCommand(tb, "install it", missing) })
	if f.skip != "" || !strings.Contains(f.fatal, missing+" not on PATH") || !strings.Contains(f.fatal, "CI=true") {
		t.Errorf("in CI: fatal %q, skip %q", f.fatal, f.skip)
	}
	// A present command neither skips nor fails.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f = run(func(tb testing.TB) { RequireCommand(tb, "", self) })
	if f.fatal != "" || f.skip != "" {
		t.Errorf("present command: fatal %q, skip %q", f.fatal, f.skip)
	}
}
