package reqbody

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const idle = 300 * time.Millisecond

// readAll answers what reading the whole body gave: 200 and its length,
// or 408 / 503 with the error.
func readAll(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var te *TimeoutError
	switch {
	case errors.As(err, &te):
		http.Error(w, err.Error(), http.StatusRequestTimeout)
	case errors.Is(err, ErrCanceled):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		fmt.Fprintf(w, "%d", len(b))
	}
}

// rawRequest opens a connection and sends head (a request line and
// headers) and then the body parts, waiting gap before each.
func rawRequest(t *testing.T, addr, head string, gap time.Duration, parts ...string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		time.Sleep(gap)
		if _, err := io.WriteString(c, p); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// answer reads the status line and body of the response on c within
// limit; 0 when the connection closed without one.
func answer(t *testing.T, c net.Conn, limit time.Duration) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(limit))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("no answer within %v", limit)
		}
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func head(method, host string, length int) string {
	return fmt.Sprintf("%s /x HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", method, host, length)
}

func TestIdleBodyIsCut(t *testing.T) {
	srv := httptest.NewServer(Handler(http.HandlerFunc(readAll), idle))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	start := time.Now()
	c := rawRequest(t, addr, head("PUT", addr, 1000), 0, "only some of it")
	status, msg := answer(t, c, 5*time.Second)
	if took := time.Since(start); status != 408 || !strings.Contains(msg, "sent nothing for 300ms") || took < idle || took > idle+time.Second {
		t.Fatalf("%d %q after %v, want 408 after about %v", status, msg, took, idle)
	}
	// The connection is closed after the answer.
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d more bytes", n)
	}
}

// A body that keeps sending, however slowly, is read whole.
func TestSlowBodyThatProgressesIsRead(t *testing.T) {
	srv := httptest.NewServer(Handler(http.HandlerFunc(readAll), idle))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c := rawRequest(t, addr, head("PUT", addr, 6), idle/2, "ab", "cd", "ef")
	if status, msg := answer(t, c, 5*time.Second); status != 200 || msg != "6" {
		t.Fatalf("%d %q", status, msg)
	}
}

// A body that trickles in, never idle, is still cut at the request's
// deadline.
func TestOverallDeadline(t *testing.T) {
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetDeadline(r, time.Now().Add(2*idle))
		readAll(w, r)
	}), idle)
	srv := httptest.NewServer(h)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	start := time.Now()
	c := rawRequest(t, addr, head("PUT", addr, 20), 0)
	trickle := make(chan struct{})
	go func() {
		defer close(trickle)
		for range 20 {
			time.Sleep(idle / 3)
			if _, err := io.WriteString(c, "x"); err != nil {
				return
			}
		}
	}()
	status, msg := answer(t, c, 5*time.Second)
	if took := time.Since(start); status != 408 || !strings.Contains(msg, "not complete within") || took > 2*idle+time.Second {
		t.Fatalf("%d %q after %v, want 408 after about %v", status, msg, took, 2*idle)
	}
	c.Close()
	<-trickle
}

// When the request's context ends (the server's base context on shutdown),
// a read waiting for the body ends at once.
func TestCanceledContextCutsTheBody(t *testing.T) {
	base, cancel := context.WithCancel(context.Background())
	reading := make(chan struct{})
	srv := httptest.NewUnstartedServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(reading)
		readAll(w, r)
	}), time.Minute))
	srv.Config.BaseContext = func(net.Listener) context.Context { return base }
	srv.Start()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c := rawRequest(t, addr, head("PUT", addr, 1000), 0, "part")
	<-reading
	start := time.Now()
	cancel()
	if status, _ := answer(t, c, 5*time.Second); status != 503 || time.Since(start) > time.Second {
		t.Fatalf("%d after %v, want 503 at once", status, time.Since(start))
	}
}

// A handler that answers without reading a stalled body does not leave
// the connection open: with Connection: close the answer goes out at once,
// and the connection closes after it.
func TestUnreadStalledBodyIsClosed(t *testing.T) {
	srv := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		http.Error(w, "no", http.StatusTooManyRequests)
	}), time.Minute))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	start := time.Now()
	c := rawRequest(t, addr, head("PUT", addr, 1000), 0, "part")
	if status, _ := answer(t, c, 5*time.Second); status != 429 {
		t.Fatalf("status %d", status)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > time.Second {
		t.Fatalf("connection still open %v after the request (%v)", time.Since(start), err)
	}
}

// A body the handler left complete but unread keeps the connection:
// the server drains it and serves the next request.
func TestUnreadCompleteBodyKeepsTheConnection(t *testing.T) {
	srv := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	}), idle))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c := rawRequest(t, addr, head("PUT", addr, 3)+"abc", 0)
	for i := range 2 {
		if status, msg := answer(t, c, 5*time.Second); status != 200 || msg != "ok" {
			t.Fatalf("request %d: %d %q", i+1, status, msg)
		}
		if _, err := io.WriteString(c, head("PUT", addr, 3)+"abc"); err != nil {
			t.Fatal(err)
		}
	}
}

// Once the body is complete no deadline is left: a handler that works
// longer than the idle time afterwards keeps its context, requests
// without a body get none, and the connection serves the next request.
func TestNoDeadlineOutsideBodies(t *testing.T) {
	srv := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		select {
		case <-r.Context().Done():
			http.Error(w, "context ended", 500)
		case <-time.After(2 * idle):
			fmt.Fprintf(w, "%d", len(b))
		}
	}), idle))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	c := rawRequest(t, addr, head("PUT", addr, 3), 0, "abc")
	if status, msg := answer(t, c, 5*time.Second); status != 200 || msg != "3" {
		t.Fatalf("with a body: %d %q", status, msg)
	}
	time.Sleep(2 * idle)
	if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if status, msg := answer(t, c, 5*time.Second); status != 200 || msg != "0" {
		t.Fatalf("next request on the connection: %d %q", status, msg)
	}
}
