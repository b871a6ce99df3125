// Package cluster is the processing server's side of distributed hosting:
// it pulls the streaming settings the core keeps for this server
// (GET <core>/api/streams/distributed/settings/<id>) and, when they differ
// from the local ones, stores them, so the engine manager and the bridge
// (which follow the store) serve this server's transmissions. Failures are
// logged as warnings and the loop goes on; credentials are never logged.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

// maxBody bounds the settings document read from the core.
const maxBody = 16 << 20

// Syncer pulls this server's settings from the core: once with
// SyncLogged at startup, then every Interval from Initialize until Close.
// Zero fields take their defaults.
type Syncer struct {
	Store    *store.Store
	CoreURL  string // http(s)://host:port of the core's API
	ServerID string // this processing server's id
	// BearerToken, when set, is sent as "Authorization: Bearer"; otherwise
	// Username and Password, when either is set, as Basic auth.
	BearerToken        string
	Username, Password string
	Interval           time.Duration // between pulls (default 5 s, at least 1 s)
	Timeout            time.Duration // per pull (default 5 s)
	Client             *http.Client  // default: a plain client
	// After is the clock the loop waits on (default time.After).
	After  func(time.Duration) <-chan time.Time
	Now    func() time.Time // stamps transmissions missing timestamps
	Logger *slog.Logger

	ctx    context.Context // ends with Close, so a pull in flight stops too
	cancel context.CancelFunc
	done   chan struct{}
}

// Initialize checks the configuration, fills in defaults and starts the
// loop, which pulls first after one Interval.
func (s *Syncer) Initialize() error {
	switch {
	case s.Store == nil:
		return errors.New("settings sync: no store")
	case s.CoreURL == "" || s.ServerID == "":
		return errors.New("settings sync: the core URL and this server's id are required")
	}
	if s.Interval <= 0 {
		s.Interval = 5 * time.Second
	}
	s.Interval = max(s.Interval, time.Second)
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Second
	}
	if s.Client == nil {
		s.Client = &http.Client{}
	}
	if s.After == nil {
		s.After = time.After
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	go s.run()
	return nil
}

// Close stops the loop and waits for it.
func (s *Syncer) Close() {
	s.cancel()
	<-s.done
}

// SettingsURL is where the core serves this server's settings.
func (s *Syncer) SettingsURL() string {
	return strings.TrimRight(s.CoreURL, "/") + "/api/streams/distributed/settings/" + url.PathEscape(s.ServerID)
}

// Where is SettingsURL without userinfo, for logs.
func (s *Syncer) Where() string { return redact(s.SettingsURL()) }

// run pulls every Interval; a failed pull is logged and the next one tried.
func (s *Syncer) run() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.After(s.Interval):
		}
		s.SyncLogged(s.ctx)
	}
}

// SyncLogged is SyncOnce with its outcome logged.
func (s *Syncer) SyncLogged(ctx context.Context) {
	changed, err := s.SyncOnce(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.Logger.Warn("settings sync from core failed", "core", redact(s.CoreURL), "server_id", s.ServerID, "err", err)
	case changed:
		s.Logger.Info("settings synced from core", "core", redact(s.CoreURL), "server_id", s.ServerID, "revision", s.Store.Current().Revision)
	}
}

// SyncOnce pulls the settings once (after Initialize). When the transmissions or the engine
// settings differ from the local ones it stores them (keeping the local
// runtime section) and reports changed; equal settings change nothing.
func (s *Syncer) SyncOnce(ctx context.Context) (changed bool, err error) {
	remote, err := s.fetch(ctx)
	if err != nil {
		return false, err
	}
	want, err := streamingJSON(remote)
	if err != nil {
		return false, err
	}
	if have, err := streamingJSON(s.Store.Current().Streams); err == nil && bytes.Equal(have, want) {
		return false, nil
	}
	errUnchanged := errors.New("unchanged")
	_, err = s.Store.UpdateConfig(func(c *model.Config) error {
		if have, err := streamingJSON(c.Streams); err == nil && bytes.Equal(have, want) {
			return errUnchanged // changed back meanwhile: no new revision
		}
		c.Streams.Transmissions = remote.Transmissions
		c.Streams.Engine = remote.Engine
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store the core's settings: %w", err)
	}
	return true, nil
}

// fetch gets and validates the core's settings for this server.
func (s *Syncer) fetch(ctx context.Context) (model.Settings, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.SettingsURL(), nil)
	if err != nil {
		return model.Settings{}, fmt.Errorf("bad core URL %q: %v", redact(s.CoreURL), err)
	}
	req.Header.Set("Accept", "application/json")
	switch {
	case s.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+s.BearerToken)
	case s.Username != "" || s.Password != "":
		req.SetBasicAuth(s.Username, s.Password)
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is logged separately, without userinfo
		}
		return model.Settings{}, fmt.Errorf("connection failed: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return model.Settings{}, fmt.Errorf("read the answer: %v", err)
	}
	if len(body) > maxBody {
		return model.Settings{}, fmt.Errorf("the answer is larger than %d bytes", maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		return model.Settings{}, fmt.Errorf("core answered HTTP %d: %s", resp.StatusCode, shorten(string(body), 300))
	}
	settings, err := model.DecodeSettings(body, s.Now(), "core")
	if err != nil {
		return model.Settings{}, fmt.Errorf("the core's settings are invalid: %w", err)
	}
	return settings, nil
}

// streamingJSON is the normalised form of what the sync owns: the
// transmissions and the engine settings.
func streamingJSON(s model.Settings) ([]byte, error) {
	ts := s.Transmissions
	if ts == nil {
		ts = []model.Transmission{}
	}
	return json.Marshal(struct {
		Transmissions []model.Transmission `json:"transmissions"`
		Engine        model.EngineSettings `json:"engine"`
	}{ts, s.Engine})
}

// redact drops userinfo from a URL for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
