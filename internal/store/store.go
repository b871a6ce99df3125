// Package store keeps the settings document on disk: one JSON file under the
// data dir, written atomically (temp file, fsync, rename, directory fsync),
// with a revision number that grows by one per committed change.
//
// Every change goes through Update, one at a time, so concurrent callers never
// lose each other's writes. Readers get immutable snapshots. Subscribers learn
// about committed changes without polling. A file that does not parse or
// validate is never overwritten: Open refuses it and says what is wrong.
// The store never talks to the network and never interprets settings beyond
// validating them with package model.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/toposync/toposync-streaming/internal/broadcast"
	"github.com/toposync/toposync-streaming/internal/model"
)

// FileName is the settings file inside the data dir.
const FileName = "settings.json"

// Document is one committed revision of the configuration. Treat it as
// read-only: it is shared by every reader of that revision.
type Document struct {
	Revision  int64
	UpdatedAt time.Time
	model.Config
}

// fileFormat is the JSON layout of the settings file.
type fileFormat struct {
	Revision  int64  `json:"revision"`
	UpdatedAt string `json:"updated_at"`
	model.Stored
}

// Store is the settings document of one data dir. Open it once per process.
type Store struct {
	path string
	lock *os.File

	mu  sync.Mutex // serialises Update
	cur broadcast.Latest[*Document]
}

// Open loads the settings file in dataDir, creating the dir and a default
// document when there is none. It fails, without touching the file, when the
// file does not parse or validate, or when another process holds the dir.
func Open(dataDir string) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	lock, err := lockDir(dataDir)
	if err != nil {
		return nil, err
	}
	s := &Store{path: filepath.Join(dataDir, FileName), lock: lock}
	removeStaleTemps(s.path)

	doc, err := load(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		doc = &Document{Revision: 1, UpdatedAt: now(), Config: model.DefaultConfig()}
		if err := s.write(doc); err != nil {
			_ = s.Close()
			return nil, err
		}
	case err != nil:
		_ = s.Close()
		return nil, err
	}
	s.cur.Publish(doc)
	return s, nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Load reads and checks the settings file of dataDir without opening the
// store (no lock, nothing written), for `toposync-streaming check`. A
// missing file is an error wrapping os.ErrNotExist.
func Load(dataDir string) (*Document, error) {
	return load(filepath.Join(dataDir, FileName))
}

func load(path string) (*Document, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f fileFormat
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("settings file %s is not valid JSON (%v); fix or move it away, the service will not overwrite it", path, err)
	}
	if err := checkTopLevel(raw); err != nil {
		return nil, fmt.Errorf("settings file %s is invalid: %v; fix or move it away, the service will not overwrite it", path, err)
	}
	cfg, err := model.DecodeStored(f.Stored, now())
	if err != nil {
		return nil, fmt.Errorf("settings file %s is invalid: %v; fix or move it away, the service will not overwrite it", path, err)
	}
	updated, _ := time.Parse(time.RFC3339Nano, f.UpdatedAt)
	return &Document{Revision: f.Revision, UpdatedAt: updated, Config: cfg}, nil
}

// topLevel are the members of the settings file.
var topLevel = []string{"revision", "updated_at", "streams", "cameras", "pipelines", "processing_servers"}

// checkTopLevel refuses members the file format does not have, like every
// other invalid member: a file in the shape GET /settings answers loaded as
// "0 transmissions" instead.
func checkTopLevel(raw []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return fmt.Errorf("the file must be a JSON object with %s", strings.Join(topLevel, ", "))
	}
	var unknown []string
	for k := range members {
		if !slices.Contains(topLevel, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	hint := ""
	if _, ok := members["transmissions"]; ok {
		hint = ` (it looks like the answer of GET /api/streams/settings: put that object under "streams")`
	}
	return fmt.Errorf("unknown top-level member %s%s; the file holds %s", strings.Join(unknown, ", "), hint, strings.Join(topLevel, ", "))
}

// Path is the settings file.
func (s *Store) Path() string { return s.path }

// Current is the latest committed document.
func (s *Store) Current() *Document { return s.cur.Current() }

// Update applies fn to a private copy of the current streaming settings
// and commits the result as the next revision (see UpdateConfig).
func (s *Store) Update(fn func(*model.Settings) error) (*Document, error) {
	return s.UpdateConfig(func(c *model.Config) error { return fn(&c.Streams) })
}

// UpdateConfig applies fn to a private copy of the whole configuration and
// commits the result as the next revision. When fn fails, or the result
// does not validate, or the file cannot be written, nothing changes and the
// error is returned as is (model.ValidationError and model.ConflictError
// included).
func (s *Store) UpdateConfig(fn func(*model.Config) error) (*Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Current()
	checked, err := apply(cur.Config, fn)
	if err != nil {
		return nil, err
	}
	next := &Document{Revision: cur.Revision + 1, UpdatedAt: now(), Config: checked}
	if err := s.write(next); err != nil {
		return nil, err
	}
	s.cur.Publish(next)
	return next, nil
}

// DryRun is what UpdateConfig(fn) would commit, checked the same way, but
// nothing is written or published: for answering "what if" (a URL preview)
// with the rules of a real save.
func (s *Store) DryRun(fn func(*model.Config) error) (model.Config, error) {
	return apply(s.cur.Current().Config, fn)
}

// apply runs fn on a private copy of c and checks the result.
func apply(c model.Config, fn func(*model.Config) error) (model.Config, error) {
	// A round trip through the file format gives fn a private deep copy,
	// and validates exactly what the next start will read back.
	draft, err := roundTrip(c)
	if err != nil {
		return model.Config{}, err
	}
	if err := fn(&draft); err != nil {
		return model.Config{}, err
	}
	return roundTrip(draft)
}

func roundTrip(c model.Config) (model.Config, error) {
	stored, err := model.EncodeStored(c)
	if err != nil {
		return model.Config{}, err
	}
	return model.DecodeStored(stored, now())
}

// Subscribe returns a channel that receives the latest committed document
// after each change. It holds one document: a slow subscriber skips to the
// newest revision instead of blocking the store. Call cancel when done.
func (s *Store) Subscribe() (updates <-chan *Document, cancel func()) {
	return s.cur.Subscribe(false)
}

func (s *Store) write(doc *Document) error {
	stored, err := model.EncodeStored(doc.Config)
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(fileFormat{Revision: doc.Revision, UpdatedAt: model.FormatTime(doc.UpdatedAt), Stored: stored}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, append(raw, '\n')); err != nil {
		return fmt.Errorf("save settings to %s: %w", s.path, err)
	}
	return nil
}

// Close releases the data dir.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// writeFileAtomic replaces path with data so that a crash at any moment
// leaves either the old or the new content, never a mix. The file is
// readable by its owner only: it holds viewer passwords.
func writeFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	committed = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// removeStaleTemps deletes temp files a crash left behind; the settings file
// itself is always complete.
func removeStaleTemps(path string) {
	dir, base := filepath.Split(path)
	matches, _ := filepath.Glob(filepath.Join(dir, "."+base+".tmp-*"))
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), "."+base+".tmp-") {
			_ = os.Remove(m)
		}
	}
}
