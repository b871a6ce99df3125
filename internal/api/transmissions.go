package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
)

func (s *server) listTransmissions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.store.Current().Streams.ForAnswer(includeSecrets(r)).Transmissions)
}

// includeSecrets says whether the request asks for the output passwords
// (?include_secrets=true, the original's answers); by default answers leave
// them out.
func includeSecrets(r *http.Request) bool {
	v := r.URL.Query().Get("include_secrets")
	return v == "true" || v == "1"
}

// lookup returns the stored transmission with the request's id.
func (s *server) lookup(r *http.Request) (model.Transmission, error) {
	settings := s.store.Current().Streams
	i := settings.Find(r.PathValue("id"))
	if i < 0 {
		return model.Transmission{}, errorf(http.StatusNotFound, "Transmission not found")
	}
	return settings.Transmissions[i], nil
}

func (s *server) getTransmission(w http.ResponseWriter, r *http.Request) {
	t, err := s.lookup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t.ForAnswer(includeSecrets(r)))
}

// createTransmission adds a transmission in front of the list. The server
// generates the id and both timestamps.
func (s *server) createTransmission(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := model.DecodeTransmissionCreate(body, "body")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t.StampMissing(s.now())
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		if err := s.checkHostIn(c, t.HostServerID, "body", "host_server_id"); err != nil {
			return err
		}
		c.Streams.Transmissions = append([]model.Transmission{t}, c.Streams.Transmissions...)
		return nil
	})
	if err != nil {
		s.writeError(w, r, bodyConflict(err, "streams", "transmissions", 0))
		return
	}
	s.awaitEngine(r, doc.Revision)
	writeJSON(w, http.StatusOK, doc.Streams.Transmissions[doc.Streams.Find(t.ID)].ForAnswer(includeSecrets(r)))
}

// putTransmission replaces a transmission. The id comes from the URL (a
// different id in the body is refused), created_at is kept, updated_at is
// now, and output passwords left out are kept.
func (s *server) putTransmission(w http.ResponseWriter, r *http.Request) {
	var rev int64
	c, _, at, ok := s.replaceTransmission(w, r, func(fn func(*model.Config) error) (model.Config, error) {
		doc, err := s.store.UpdateConfig(fn)
		if err != nil {
			return model.Config{}, err
		}
		rev = doc.Revision
		return doc.Config, nil
	})
	if ok {
		s.awaitEngine(r, rev)
		writeJSON(w, http.StatusOK, c.Streams.Transmissions[at].ForAnswer(includeSecrets(r)))
	}
}

// replaceTransmission reads the request's replacement of transmission
// {id} and runs it through run (the store's UpdateConfig, or DryRun for a
// preview). It returns the resulting config, the transmission as it was
// and its index; on failure it has answered the error and ok is false.
func (s *server) replaceTransmission(w http.ResponseWriter, r *http.Request, run func(func(*model.Config) error) (model.Config, error)) (c model.Config, saved model.Transmission, at int, ok bool) {
	id := r.PathValue("id")
	t, err := decodeReplacement(w, r, id)
	if err == nil {
		c, err = run(func(c *model.Config) (err error) {
			if i := c.Streams.Find(id); i >= 0 {
				saved = c.Streams.Transmissions[i]
			}
			at, err = s.replaceIn(c, id, t)
			return err
		})
	}
	if err != nil {
		s.writeError(w, r, bodyConflict(err, "streams", "transmissions", at))
		return c, saved, at, false
	}
	return c, saved, at, true
}

// decodeReplacement reads the body of a PUT (or its preview) of
// transmission id.
func decodeReplacement(w http.ResponseWriter, r *http.Request, id string) (model.Transmission, error) {
	body, _, err := replacementBody(w, r, id, "Transmission", func(bodyID string) bool { return bodyID == id })
	if err != nil {
		return model.Transmission{}, err
	}
	return model.DecodeTransmissionReplace(body, "body")
}

// replaceIn puts t in place of transmission id in c and returns its index.
func (s *server) replaceIn(c *model.Config, id string, t model.Transmission) (int, error) {
	if err := s.checkHostIn(c, t.HostServerID, "body", "host_server_id"); err != nil {
		return 0, err
	}
	cur := &c.Streams
	i := cur.Find(id)
	if i < 0 {
		return 0, errorf(http.StatusNotFound, "Transmission not found")
	}
	model.KeepOutputPasswords(cur.Transmissions[i:i+1], []model.Transmission{t})
	t.CreatedAt = cur.Transmissions[i].CreatedAt
	t.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	cur.Transmissions[i] = t
	return i, nil
}

// engineApplyWait bounds how long a write waits for the engine (see
// awaitEngine); an engine that is still starting answers later anyway.
const engineApplyWait = 2 * time.Second

// awaitEngine holds the answer of a write that may change the engine's
// paths until the engine serves revision rev (up to engineApplyWait), so
// that a client can open the URLs of a transmission it just created, and no
// longer reach one it just deleted, as soon as the answer arrives.
func (s *server) awaitEngine(r *http.Request, rev int64) {
	ctx, cancel := context.WithTimeout(r.Context(), engineApplyWait)
	defer cancel()
	if !s.engine.AwaitRevision(ctx, rev) && r.Context().Err() == nil {
		s.log.Warn("the engine did not apply the new settings in time; answering anyway", "revision", rev, "waited", engineApplyWait)
	}
}

func (s *server) deleteTransmission(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	doc, err := s.store.Update(func(cur *model.Settings) error {
		i := cur.Find(id)
		if i < 0 {
			return errorf(http.StatusNotFound, "Transmission not found")
		}
		cur.Transmissions = append(cur.Transmissions[:i], cur.Transmissions[i+1:]...)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.awaitEngine(r, doc.Revision)
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

// outputURL is one entry of the URL resolution payload.
type outputURL struct {
	OutputID           string         `json:"output_id"`
	Protocol           model.Protocol `json:"protocol"`
	ResolvedEnginePath string         `json:"resolved_engine_path"`
	URL                string         `json:"url"`
	RequiresAuth       bool           `json:"requires_auth"`
	AuthUsername       *string        `json:"auth_username"`
}

type transmissionURLs struct {
	TransmissionID string      `json:"transmission_id"`
	EngineRunning  bool        `json:"engine_running"`
	Outputs        []outputURL `json:"outputs"`
	Warnings       []string    `json:"warnings"`
}

const warnEngineNotRunning = "Engine is not running. URLs are based on preferred ports."

func (s *server) transmissionURLs(w http.ResponseWriter, r *http.Request) {
	t, err := s.lookup(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.isRemote(t.HostServerID) {
		out, err := s.remoteURLs(r, t)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	writeJSON(w, http.StatusOK, s.resolveURLs(r, t))
}

// internalTransmissionURLs is what a core asks a processing server; it only
// answers for transmissions this server hosts.
func (s *server) internalTransmissionURLs(w http.ResponseWriter, r *http.Request) {
	t, err := s.lookup(r)
	if err == nil && !model.HostedHere(t.HostServerID, s.serverID) {
		err = errorf(http.StatusConflict, "Transmission is hosted on '%s', not on this server ('%s')", t.HostServerID, s.serverID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.resolveURLs(r, t))
}

// urlView is how this server builds playback URLs for a request: the
// viewer's host, the engine's ports (the preferred ones until it runs) and
// the warnings that go with them.
type urlView struct {
	host     string
	ports    model.Ports
	tls      bool
	running  bool
	warnings []string
}

func (s *server) urlView(r *http.Request) urlView {
	host := s.viewerHost(r)
	st := s.engine.Status(host)
	v := urlView{host: host, ports: s.store.Current().Streams.Engine.PreferredPorts, tls: st.TLS, running: st.Running, warnings: []string{warnEngineNotRunning}}
	if st.Running {
		v.ports, v.warnings = st.Ports.Ports, st.Warnings // port remaps, if any
	}
	return v
}

func (v urlView) url(o *model.Output, path string) string {
	return model.PlaybackURL(o.Protocol, v.host, v.ports, path, v.tls)
}

// resolveURLs builds the playback URL of each enabled output. Until an
// engine runs, the URLs use the preferred ports and say so.
func (s *server) resolveURLs(r *http.Request, t model.Transmission) transmissionURLs {
	return s.urlView(r).resolve(t)
}

func (v urlView) resolve(t model.Transmission) transmissionURLs {
	out := transmissionURLs{TransmissionID: t.ID, EngineRunning: v.running, Outputs: []outputURL{}, Warnings: slices.Clone(v.warnings)}
	if !t.Enabled {
		out.Warnings = append(out.Warnings, "Transmission is disabled: enable it to publish.")
	}
	for _, o := range t.EnabledOutputs() {
		path := t.OutputPath(o)
		entry := outputURL{
			OutputID:           o.ID,
			Protocol:           o.Protocol,
			ResolvedEnginePath: path,
			URL:                v.url(o, path),
			RequiresAuth:       o.Authentication.Applies(),
		}
		if entry.RequiresAuth {
			entry.AuthUsername = o.Authentication.Username
		}
		out.Outputs = append(out.Outputs, entry)
	}
	return out
}

// urlChange is an output, enabled before and after an edit, whose URL the
// edit would change.
type urlChange struct {
	OutputID      string         `json:"output_id"`
	Protocol      model.Protocol `json:"protocol"`
	OldEnginePath string         `json:"old_engine_path"`
	NewEnginePath string         `json:"new_engine_path"`
	OldURL        string         `json:"old_url"`
	NewURL        string         `json:"new_url"`
}

type urlPreview struct {
	transmissionURLs
	Changes []urlChange `json:"changes"`
}

// previewURLs is POST /transmissions/{id}/urls/preview: the URLs the body
// would give the transmission if it were PUT, and the saved outputs whose
// URL would change, so the UI can warn before a save moves a URL (and offer
// to pin the old path with output.path). The body is checked exactly as a
// PUT's, conflicts included; nothing is saved.
func (s *server) previewURLs(w http.ResponseWriter, r *http.Request) {
	c, saved, at, ok := s.replaceTransmission(w, r, s.store.DryRun)
	if !ok {
		return
	}
	draft := c.Streams.Transmissions[at]
	v := s.urlView(r)
	answer := urlPreview{transmissionURLs: v.resolve(draft), Changes: []urlChange{}}
	if s.isRemote(draft.HostServerID) {
		// The processing server's host and ports are not known here
		// without asking it; the engine paths are what changes.
		answer.Warnings = append(answer.Warnings, fmt.Sprintf("Transmission is hosted on processing server '%s': the URLs use this server's address and ports; their engine paths are the ones it serves.", draft.HostServerID))
	}
	for _, old := range saved.EnabledOutputs() {
		for _, o := range draft.EnabledOutputs() {
			if o.ID != old.ID {
				continue
			}
			ch := urlChange{OutputID: o.ID, Protocol: o.Protocol, OldEnginePath: saved.OutputPath(old), NewEnginePath: draft.OutputPath(o)}
			ch.OldURL, ch.NewURL = v.url(old, ch.OldEnginePath), v.url(o, ch.NewEnginePath)
			if ch.OldURL != ch.NewURL {
				answer.Changes = append(answer.Changes, ch)
			}
		}
	}
	writeJSON(w, http.StatusOK, answer)
}

// viewerHost is the host put into playback URLs: 127.0.0.1, or the host the
// client used to reach us when the engine is exposed to the LAN.
func (s *server) viewerHost(r *http.Request) string {
	if !s.store.Current().Streams.Engine.ExposeToLAN {
		return "127.0.0.1"
	}
	return requestHostname(r)
}

// requestHostname is the host the client used to reach us, without the port.
func requestHostname(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" || strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':')
	}) {
		return "127.0.0.1" // no usable host name: fall back to loopback
	}
	return host
}
