package store

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/toposync/toposync-streaming/internal/model"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func addTransmission(id string) func(*model.Settings) error {
	return func(s *model.Settings) error {
		tr, err := model.DecodeTransmission(json.RawMessage(fmt.Sprintf(`{"id":%q,"path":%q}`, id, id)))
		if err != nil {
			return err
		}
		tr.StampMissing(time.Now())
		s.Transmissions = append(s.Transmissions, tr)
		return nil
	}
}

func TestOpenCreatesDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := open(t, dir)
	if s.Current().Revision != 1 {
		t.Errorf("revision = %d, want 1", s.Current().Revision)
	}
	info, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("settings file mode = %v, want 0600 (it holds passwords)", info.Mode().Perm())
	}
	want, _ := json.Marshal(model.DefaultSettings())
	got, _ := json.Marshal(s.Current().Streams)
	if string(got) != string(want) {
		t.Errorf("settings = %s, want %s", got, want)
	}
}

func TestUpdatePersistsAndReopens(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	doc, err := s.Update(addTransmission("front"))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Revision != 2 || len(doc.Streams.Transmissions) != 1 {
		t.Fatalf("after update: revision %d, %d transmissions", doc.Revision, len(doc.Streams.Transmissions))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, dir)
	if again.Current().Revision != 2 || again.Current().Streams.Transmissions[0].ID != "front" {
		t.Errorf("reopened: %+v", again.Current())
	}
}

func TestFailedUpdateChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Update(addTransmission("a")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.Path())

	boom := errors.New("boom")
	if _, err := s.Update(func(*model.Settings) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	_, err := s.Update(addTransmission("a")) // duplicate id
	var ce *model.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("duplicate id: err = %v, want ConflictError", err)
	}
	_, err = s.Update(func(st *model.Settings) error {
		st.Engine.PreferredPorts.RTSP = 0 // mutating then failing validation
		return nil
	})
	var ve *model.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("invalid port: err = %v, want ValidationError", err)
	}
	after, _ := os.ReadFile(s.Path())
	if string(before) != string(after) || s.Current().Revision != 2 || s.Current().Streams.Engine.PreferredPorts.RTSP != 8554 {
		t.Errorf("a failed update changed the store")
	}
}

func TestInvalidFileIsRefusedAndKept(t *testing.T) {
	for name, content := range map[string]string{
		"not json":       `{"revision": 3, "streams": {`,
		"invalid value":  `{"revision": 3, "streams": {"engine": {"preferred_ports": {"rtsp": 0}}}}`,
		"duplicate path": `{"revision": 3, "streams": {"transmissions": [{"id":"a","path":"x"},{"id":"b","path":"x"}]}}`,
		// The shape GET /settings answers loaded as "0 transmissions".
		"settings answer at the top": `{"transmissions": [{"id":"a","name":"A","path":"a"}], "engine": {}}`,
		"misplaced member":           `{"revision": 3, "streams": {}, "engine": {}}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v, want an error naming %s", err, path)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Errorf("the invalid file was overwritten")
			}
			if strings.Contains(content, `"engine": {}}`) && (!strings.Contains(err.Error(), `"engine"`) || !strings.Contains(err.Error(), "streams")) {
				t.Errorf("the error does not name the member and the expected shape: %v", err)
			}
		})
	}
}

func TestSecondOpenOfOneDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	if s, err := Open(dir); err == nil {
		_ = s.Close()
		t.Fatal("a second store opened the same data dir")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("err = %v", err)
	}
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	s := open(t, t.TempDir())
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.Update(addTransmission(fmt.Sprintf("t%02d", i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	doc := s.Current()
	if doc.Revision != 1+n || len(doc.Streams.Transmissions) != n {
		t.Errorf("revision %d with %d transmissions, want %d and %d", doc.Revision, len(doc.Streams.Transmissions), 1+n, n)
	}
}

func TestSubscribeSeesCommittedChanges(t *testing.T) {
	s := open(t, t.TempDir())
	updates, cancel := s.Subscribe()
	defer cancel()
	for i := range 3 {
		if _, err := s.Update(addTransmission(fmt.Sprintf("t%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// One slot: a subscriber that was not reading gets the newest revision.
	select {
	case doc := <-updates:
		if doc.Revision != 4 {
			t.Errorf("got revision %d, want the newest (4)", doc.Revision)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	if _, err := s.Update(func(*model.Settings) error { return errors.New("no") }); err == nil {
		t.Fatal("expected failure")
	}
	select {
	case doc := <-updates:
		t.Errorf("a failed update notified revision %d", doc.Revision)
	default:
	}
}

// TestMain runs the package's tests and fails them if any goroutine is
// still running after them. With STORE_TEST_WRITER_DIR set, it is instead
// the writer child of TestKillDuringWritesKeepsAcknowledgedData: it adds
// transmissions as fast as it can and prints each acknowledged revision.
func TestMain(m *testing.M) {
	if dir := os.Getenv("STORE_TEST_WRITER_DIR"); dir != "" {
		s, err := Open(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		for i := 0; ; i++ {
			doc, err := s.Update(addTransmission(fmt.Sprintf("k%05d", i)))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(4)
			}
			fmt.Printf("ack %d\n", doc.Revision)
		}
	}
	goleak.VerifyTestMain(m)
}

func TestKillDuringWritesKeepsAcknowledgedData(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "STORE_TEST_WRITER_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		var acked int64
		for acks := 0; acks < 25+round*10 && lines.Scan(); acks++ {
			acked, _ = strconv.ParseInt(strings.TrimPrefix(lines.Text(), "ack "), 10, 64)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if acked == 0 {
			t.Fatal("the writer acknowledged nothing")
		}

		s, err := Open(dir)
		if err != nil {
			t.Fatalf("round %d: store unreadable after SIGKILL: %v", round, err)
		}
		if temps, _ := filepath.Glob(filepath.Join(dir, "."+FileName+".tmp-*")); len(temps) > 0 {
			t.Errorf("round %d: temp files left after reopening: %v", round, temps)
		}
		doc := s.Current()
		if doc.Revision < acked {
			t.Errorf("round %d: revision %d on disk, but %d was acknowledged", round, doc.Revision, acked)
		}
		if got := int64(len(doc.Streams.Transmissions)); got != doc.Revision-1 {
			t.Errorf("round %d: %d transmissions at revision %d", round, got, doc.Revision)
		}
		_ = s.Close()
		// Each round's writer starts numbering from 0 again: clear the file.
		if err := os.Remove(filepath.Join(dir, FileName)); err != nil {
			t.Fatal(err)
		}
	}
}
