// Package reqbody bounds how long an HTTP request body may take. Handler
// wraps a handler so that a body that makes no progress for its idle time
// is cut, a request may be given an overall deadline (SetDeadline), and a
// body is cut at once when the request's context ends (the server shutting
// down), so that no upload holds a connection, a goroutine or a shutdown.
//
// It works through the connection's read deadline (http.ResponseController),
// moved forward before each Read. It never reads a body itself and keeps no
// goroutine past the request.
package reqbody

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// DefaultIdle is how long a request body may send nothing.
const DefaultIdle = 10 * time.Second

// ErrCanceled is the error of a body read cut because the request's
// context ended: the server is shutting down.
var ErrCanceled = errors.New("reqbody: the request was canceled (the server is shutting down)")

// TimeoutError is the error of a body read that hit a limit: the body sent
// nothing for Idle, or was not complete by the request's deadline.
type TimeoutError struct {
	Idle  bool          // no progress for After; else the overall deadline passed
	After time.Duration // the idle time, or the time from the request's start
}

func (e *TimeoutError) Error() string {
	if e.Idle {
		return fmt.Sprintf("the request body sent nothing for %v", e.After)
	}
	return fmt.Sprintf("the request body was not complete within %v", e.After.Round(time.Second))
}

// Timeout marks it as a net.Error-style timeout.
func (e *TimeoutError) Timeout() bool { return true }

// Handler returns next with request bodies bounded by idle (DefaultIdle
// when 0). Requests without a body pass untouched: no deadline is set for
// them, so long handlers are not disturbed.
func Handler(next http.Handler, idle time.Duration) http.Handler {
	if idle <= 0 {
		idle = DefaultIdle
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &body{inner: r.Body, rc: http.NewResponseController(w), idle: idle, start: time.Now()}
		// A deadline from the start: the server reads what the handler
		// left of the body after it returns, and must not wait forever.
		b.mu.Lock()
		b.extendLocked()
		b.mu.Unlock()
		stop := context.AfterFunc(r.Context(), b.cut)
		defer b.finish(stop)
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
		r.Body = b
		next.ServeHTTP(w, r)
	})
}

// SetDeadline gives r's body an overall deadline (kept when an earlier one
// is set). It does nothing for a request not served through Handler.
func SetDeadline(r *http.Request, t time.Time) {
	b, ok := r.Context().Value(bodyKey{}).(*body)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.overall.IsZero() || t.Before(b.overall) {
		b.overall = t
	}
	if !b.canceled && !b.done && !b.eof {
		b.extendLocked()
	}
}

type bodyKey struct{}

// body is a request body whose reads move the connection's read deadline.
type body struct {
	inner io.ReadCloser
	rc    *http.ResponseController
	idle  time.Duration
	start time.Time

	mu       sync.Mutex
	overall  time.Time // zero: none
	canceled bool      // the request's context ended: reads are cut
	eof      bool      // the body is complete: no deadline any more
	done     bool      // the handler returned: the connection is the server's again
}

// extendLocked sets the read deadline for the next read and returns it,
// with whether it is the idle one.
func (b *body) extendLocked() (time.Time, bool) {
	deadline, idle := time.Now().Add(b.idle), true
	if !b.overall.IsZero() && b.overall.Before(deadline) {
		deadline, idle = b.overall, false
	}
	_ = b.rc.SetReadDeadline(deadline) // unsupported writers: no bound, as before
	return deadline, idle
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.canceled {
		b.mu.Unlock()
		return 0, ErrCanceled
	}
	deadline, idle := b.extendLocked()
	b.mu.Unlock()
	n, err := b.inner.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Our deadline passed, or the cut moved it to the past (the
		// canceled flag cannot tell: a timeout cancels the context too).
		if time.Now().Before(deadline) {
			return n, ErrCanceled
		}
		if idle {
			return n, &TimeoutError{Idle: true, After: b.idle}
		}
		return n, &TimeoutError{After: deadline.Sub(b.start)}
	case errors.Is(err, io.EOF):
		// The server reads on after the body (to notice a client that
		// goes away): that read must not time out.
		b.mu.Lock()
		b.eof = true
		if !b.canceled {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *body) Close() error { return b.inner.Close() }

// cut ends the body's reads when the request's context ends.
func (b *body) cut() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.canceled = true
	_ = b.rc.SetReadDeadline(time.Unix(1, 0))
}

// finish runs when the handler returns: from then on the server owns the
// connection's deadlines, and a late cut must not touch them (the next
// request on the connection would fail). What the handler left of the body
// is not waited for: the server's own read of the rest ends at once and it
// closes the connection (a rest it already drained is not read again).
func (b *body) finish(stop func() bool) {
	stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if !b.eof && !b.canceled {
		_ = b.rc.SetReadDeadline(time.Unix(1, 0))
	}
}
