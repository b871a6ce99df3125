package app

import (
	"errors"
	"log/slog"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type recorded struct {
	name string
	log  *[]string
	fail bool
}

func (r recorded) Initialize() error {
	if r.fail {
		return errors.New("cannot")
	}
	*r.log = append(*r.log, "start "+r.name)
	return nil
}

func (r recorded) Close() { *r.log = append(*r.log, "close "+r.name) }

func TestPartsCloseInReverseOrder(t *testing.T) {
	var log []string
	p := &parts{log: slog.New(slog.DiscardHandler)}
	for _, name := range []string{"manager", "bridge", "http"} {
		if err := p.start(name, recorded{name: name, log: &log}); err != nil {
			t.Fatal(err)
		}
	}
	p.closeAll()
	p.closeAll() // a second close (the deferred one after a clean stop) does nothing
	want := []string{"start manager", "start bridge", "start http", "close http", "close bridge", "close manager"}
	if !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}

func TestPartsFailedStartClosesWhatStarted(t *testing.T) {
	var log []string
	p := &parts{log: slog.New(slog.DiscardHandler)}
	if err := p.start("manager", recorded{name: "manager", log: &log}); err != nil {
		t.Fatal(err)
	}
	err := p.start("bridge", recorded{name: "bridge", log: &log, fail: true})
	if err == nil || err.Error() != "start bridge: cannot" {
		t.Fatalf("err = %v", err)
	}
	p.closeAll()
	if want := []string{"start manager", "close manager"}; !slices.Equal(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}
