package api

import (
	"net"
	"net/http"
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
		if err := s.checkHostIn(c, t.HostServerID); err != nil {
			return err
		}
		c.Streams.Transmissions = append([]model.Transmission{t}, c.Streams.Transmissions...)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc.Streams.Transmissions[doc.Streams.Find(t.ID)].ForAnswer(includeSecrets(r)))
}

// putTransmission replaces a transmission. The id comes from the URL (a
// different id in the body is refused), created_at is kept, updated_at is
// now, and output passwords left out are kept.
func (s *server) putTransmission(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, _, err := replacementBody(w, r, id, "Transmission", func(bodyID string) bool { return bodyID == id })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := model.DecodeTransmissionReplace(body, "body")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		if err := s.checkHostIn(c, t.HostServerID); err != nil {
			return err
		}
		cur := &c.Streams
		i := cur.Find(id)
		if i < 0 {
			return errorf(http.StatusNotFound, "Transmission not found")
		}
		model.KeepOutputPasswords(cur.Transmissions[i:i+1], []model.Transmission{t})
		t.CreatedAt = cur.Transmissions[i].CreatedAt
		t.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		cur.Transmissions[i] = t
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc.Streams.Transmissions[doc.Streams.Find(id)].ForAnswer(includeSecrets(r)))
}

func (s *server) deleteTransmission(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.store.Update(func(cur *model.Settings) error {
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

// resolveURLs builds the playback URL of each enabled output. Until an
// engine runs, the URLs use the preferred ports and say so.
func (s *server) resolveURLs(r *http.Request, t model.Transmission) transmissionURLs {
	host := s.viewerHost(r)
	st := s.engine.Status(host)
	out := transmissionURLs{TransmissionID: t.ID, EngineRunning: st.Running, Outputs: []outputURL{}, Warnings: []string{warnEngineNotRunning}}
	ports := s.store.Current().Streams.Engine.PreferredPorts
	if st.Running {
		ports, out.Warnings = st.Ports.Ports, st.Warnings // port remaps, if any
	}
	if !t.Enabled {
		out.Warnings = append(out.Warnings, "Transmission is disabled: enable it to publish.")
	}
	for _, o := range t.EnabledOutputs() {
		path := t.OutputPath(o)
		entry := outputURL{
			OutputID:           o.ID,
			Protocol:           o.Protocol,
			ResolvedEnginePath: path,
			URL:                model.PlaybackURL(o.Protocol, host, ports, path, st.TLS),
			RequiresAuth:       o.Authentication.Applies(),
		}
		if entry.RequiresAuth {
			entry.AuthUsername = o.Authentication.Username
		}
		out.Outputs = append(out.Outputs, entry)
	}
	return out
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
