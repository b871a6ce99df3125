package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
)

// RemoteTimeout bounds each call the core makes to a processing server.
const RemoteTimeout = 6 * time.Second

// remoteBodyLimit bounds what is read from a processing server's answer.
const remoteBodyLimit = 1 << 20

func (s *server) listProcessingServers(w http.ResponseWriter, _ *http.Request) {
	ps := s.store.Current().ProcessingServers
	if ps == nil {
		ps = []model.ProcessingServer{}
	}
	writeJSON(w, http.StatusOK, ps)
}

func (s *server) getProcessingServer(w http.ResponseWriter, r *http.Request) {
	doc := s.store.Current()
	i := doc.FindProcessingServer(r.PathValue("id"))
	if i < 0 {
		s.writeError(w, r, errorf(http.StatusNotFound, "Processing server not found"))
		return
	}
	writeJSON(w, http.StatusOK, doc.ProcessingServers[i])
}

// createProcessingServer registers a processing server; its id defaults to
// the slug of its name.
func (s *server) createProcessingServer(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := model.DecodeProcessingServer(body, "body")
	if err == nil && p.ID == s.serverID {
		err = errorAt(http.StatusConflict, []any{"body", "id"}, "Processing server id '%s' is this server's own id", p.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		if c.FindProcessingServer(p.ID) >= 0 {
			return &model.ConflictError{Msg: "Duplicate processing server id: " + p.ID, Loc: []any{"body", "id"}}
		}
		c.ProcessingServers = append(c.ProcessingServers, p)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc.ProcessingServers[doc.FindProcessingServer(p.ID)])
}

// putProcessingServer replaces a processing server. The id comes from the
// URL; a body without "password" keeps the stored one, null or "" clears it.
func (s *server) putProcessingServer(w http.ResponseWriter, r *http.Request) {
	id := model.NormalizeHostID(r.PathValue("id"))
	body, passwordSent, err := replacementBody(w, r, id, "Processing server", func(bodyID string) bool { return model.NormalizeHostID(bodyID) == id })
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := model.DecodeProcessingServer(body, "body")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		i := c.FindProcessingServer(id)
		if i < 0 {
			return errorf(http.StatusNotFound, "Processing server not found")
		}
		if !passwordSent {
			p.Password = c.ProcessingServers[i].Password
		}
		c.ProcessingServers[i] = p
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, doc.ProcessingServers[doc.FindProcessingServer(id)])
}

// deleteProcessingServer removes a processing server no transmission or
// pipeline uses.
func (s *server) deleteProcessingServer(w http.ResponseWriter, r *http.Request) {
	id := model.NormalizeHostID(r.PathValue("id"))
	_, err := s.store.UpdateConfig(func(c *model.Config) error {
		i := c.FindProcessingServer(id)
		if i < 0 {
			return errorf(http.StatusNotFound, "Processing server not found")
		}
		var users []string
		for _, t := range c.Streams.Transmissions {
			if model.HostedHere(t.HostServerID, id) {
				users = append(users, fmt.Sprintf("transmission '%s'", t.Label()))
			}
		}
		for _, p := range c.Pipelines {
			if model.HostedHere(p.ProcessingServerID, id) {
				users = append(users, fmt.Sprintf("pipeline '%s'", p.Name))
			}
		}
		if len(users) > 0 {
			return errorf(http.StatusConflict, "Processing server '%s' is used by %s: change or delete them first", id, strings.Join(users, ", "))
		}
		c.ProcessingServers = append(c.ProcessingServers[:i], c.ProcessingServers[i+1:]...)
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

// checkHostIn accepts "local", this server's own id and the processing
// servers registered in c; loc is the request field that names host (none
// when the URL does).
func (s *server) checkHostIn(c *model.Config, host string, loc ...any) error {
	if host == model.LocalHost || host == s.serverID || c.FindProcessingServer(host) >= 0 {
		return nil
	}
	return errorAt(http.StatusBadRequest, loc, "Unknown host_server_id: %s", host)
}

// isRemote says whether a transmission hosted on host is served by another
// server.
func (s *server) isRemote(host string) bool {
	return !model.HostedHere(host, s.serverID)
}

// remoteServer is the registered processing server with id.
func (s *server) remoteServer(id string) (model.ProcessingServer, error) {
	doc := s.store.Current()
	i := doc.FindProcessingServer(id)
	if i < 0 {
		return model.ProcessingServer{}, errorf(http.StatusBadRequest, "Unknown host_server_id: %s", id)
	}
	return doc.ProcessingServers[i], nil
}

// remoteCall sends method to the processing server's API at path (under
// its URL) with its stored credentials, and returns the status and body.
// A transport failure comes back as a reason, "Connection failed: ...".
func (s *server) remoteCall(ctx context.Context, ps model.ProcessingServer, method, path string) (status int, body []byte, failure string) {
	ctx, cancel := context.WithTimeout(ctx, RemoteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ps.Endpoint(path), nil)
	if err != nil {
		return 0, nil, "Connection failed: " + err.Error()
	}
	if ps.Username != nil || ps.Password != nil {
		req.SetBasicAuth(deref(ps.Username), deref(ps.Password))
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.remote.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the caller names the server; keep the reason
		}
		return 0, nil, "Connection failed: " + err.Error()
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, remoteBodyLimit))
	if err != nil {
		return 0, nil, "Connection failed: " + err.Error()
	}
	return resp.StatusCode, body, ""
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// remoteURLs asks the processing server hosting t for t's URLs and points
// them at that server's host.
func (s *server) remoteURLs(r *http.Request, t model.Transmission) (transmissionURLs, error) {
	ps, err := s.remoteServer(t.HostServerID)
	if err != nil {
		return transmissionURLs{}, err
	}
	fail := func(reason string) error {
		return errorf(http.StatusBadGateway, "Failed to resolve URLs from processing server '%s': %s", ps.ID, reason)
	}
	status, body, failure := s.remoteCall(r.Context(), ps, http.MethodGet, Prefix+"/internal/transmissions/"+url.PathEscape(t.ID)+"/urls")
	if failure != "" {
		return transmissionURLs{}, fail(failure)
	}
	if status != http.StatusOK {
		return transmissionURLs{}, fail(fmt.Sprintf("HTTP %d: %s", status, shorten(string(body), 500)))
	}
	var out transmissionURLs
	if json.Unmarshal(body, &out) != nil {
		return transmissionURLs{}, fail("invalid JSON")
	}
	if out.Outputs == nil {
		return transmissionURLs{}, fail("invalid payload (no outputs)")
	}
	if out.Warnings == nil {
		out.Warnings = []string{}
	}
	out.TransmissionID = t.ID
	host := ps.Hostname()
	for i := range out.Outputs {
		out.Outputs[i].URL = model.RewriteHost(out.Outputs[i].URL, host)
	}
	out.Warnings = append(out.Warnings, fmt.Sprintf("Resolved via processing server '%s'.", ps.ID))
	if host != "" {
		out.Warnings = append(out.Warnings, fmt.Sprintf("URLs normalized to host '%s'.", host))
	}
	return out, nil
}

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// proxyRemote serves requests about transmissions hosted on a registered
// processing server by forwarding them there (same method and path, no
// body) and answering what it answered; local transmissions go to local.
func (s *server) proxyRemote(local http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := s.lookup(r)
		if err != nil || !s.isRemote(t.HostServerID) {
			local(w, r)
			return
		}
		ps, err := s.remoteServer(t.HostServerID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		status, body, failure := s.remoteCall(r.Context(), ps, r.Method, r.URL.EscapedPath())
		if failure == "" && !json.Valid(body) {
			failure = "invalid JSON"
		}
		if failure != "" {
			s.writeError(w, r, errorf(http.StatusBadGateway, "Failed to reach processing server '%s': %s", ps.ID, failure))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}
