package whep

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The client against the real engine is tested in internal/engine/embedded
// (every WHEP test there uses it); these cover the HTTP side alone.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDialRefused(t *testing.T) {
	var gotAuth, gotType string
	var gotOffer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		gotAuth, gotType = user+":"+pass, r.Header.Get("Content-Type")
		b, _ := io.ReadAll(r.Body)
		gotOffer = string(b)
		http.Error(w, "no stream", http.StatusNotFound)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := Dialer{OfferLF: true}
	_, err := d.Dial(ctx, srv.URL+"/cam/whep", "u", "p")
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusNotFound || !strings.Contains(he.Body, "no stream") {
		t.Fatalf("err = %v", err)
	}
	if gotAuth != "u:p" || gotType != "application/sdp" {
		t.Fatalf("auth %q, content type %q", gotAuth, gotType)
	}
	if !strings.HasPrefix(gotOffer, "v=0\n") || strings.Contains(gotOffer, "\r") || !strings.Contains(gotOffer, "a=recvonly") {
		t.Fatalf("offer:\n%s", gotOffer)
	}
}

func TestDialAnswerWithoutLocation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/sdp")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "v=0\r\n")
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Dial(ctx, srv.URL+"/cam/whep", "", ""); err == nil || !strings.Contains(err.Error(), "Location") {
		t.Fatalf("err = %v", err)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, "192.168.1.2": false, "example.org": false} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("%s: %v", host, got)
		}
	}
}
