package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

func (s *server) getSettings(w http.ResponseWriter, r *http.Request) {
	writeSettings(w, r, s.store.Current())
}

// patchSettings merges the body into the settings (see model.ApplyPatch). An
// invalid result is refused whole: nothing is saved. Output passwords the
// result leaves out are kept.
func (s *server) patchSettings(w http.ResponseWriter, r *http.Request) {
	body, err := readJSONBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc, err := s.store.UpdateConfig(func(c *model.Config) error {
		merged, err := model.ApplyPatch(c.Streams, body, s.now())
		if err != nil {
			return err
		}
		for i, t := range merged.Transmissions {
			if err := s.checkHostIn(c, t.HostServerID, "body", "transmissions", i, "host_server_id"); err != nil {
				return err
			}
		}
		model.KeepOutputPasswords(c.Streams.Transmissions, merged.Transmissions)
		c.Streams = merged
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.awaitEngine(r, doc.Revision)
	writeSettings(w, r, doc)
}

// writeSettings answers the settings with their revision as ETag, so clients
// can tell whether anything changed; passwords only when asked for.
func writeSettings(w http.ResponseWriter, r *http.Request, doc *store.Document) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(doc.Revision, 10)))
	writeJSON(w, http.StatusOK, doc.Streams.ForAnswer(includeSecrets(r)))
}

// checkHost accepts the host ids this server knows: "local", its own id
// and the registered processing servers (see checkHostIn).
func (s *server) checkHost(host string, loc ...any) error {
	return s.checkHostIn(&s.store.Current().Config, host, loc...)
}

// replacementBody reads the body of a PUT that replaces the object the URL
// names: an "id" in the body that names another object (same tells) is
// refused with 400, and the URL's id is put into the body. passwordSent
// reports whether the body has a "password" member: without one, the
// stored password is kept (listings never show it).
func replacementBody(w http.ResponseWriter, r *http.Request, id, kind string, same func(bodyID string) bool) (body json.RawMessage, passwordSent bool, err error) {
	if body, err = readJSONBody(w, r); err != nil {
		return nil, false, err
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(body, &members) != nil || members == nil {
		return body, false, nil // not an object: the decoder says so
	}
	var bodyID string
	if raw, ok := members["id"]; ok && json.Unmarshal(raw, &bodyID) == nil && !same(bodyID) {
		return nil, false, errorAt(http.StatusBadRequest, []any{"body", "id"}, "%s id mismatch: the URL names '%s' but the body names '%s'", kind, id, bodyID)
	}
	quoted, err := json.Marshal(id)
	if err != nil {
		return nil, false, err
	}
	members["id"] = quoted
	_, passwordSent = members["password"]
	body, err = json.Marshal(members)
	return body, passwordSent, err
}
