package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/store"
)

func (s *server) getSettings(w http.ResponseWriter, _ *http.Request) {
	writeSettings(w, s.store.Current())
}

// patchSettings merges the body into the settings (see model.ApplyPatch). An
// invalid result is refused whole: nothing is saved.
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
		for _, t := range merged.Transmissions {
			if err := s.checkHostIn(c, t.HostServerID); err != nil {
				return err
			}
		}
		c.Streams = merged
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSettings(w, doc)
}

// writeSettings answers the settings with their revision as ETag, so clients
// can tell whether anything changed.
func writeSettings(w http.ResponseWriter, doc *store.Document) {
	w.Header().Set("ETag", strconv.Quote(strconv.FormatInt(doc.Revision, 10)))
	writeJSON(w, http.StatusOK, doc.Streams)
}

// checkHost accepts the host ids this server knows: "local", its own id
// and the registered processing servers (see checkHostIn).
func (s *server) checkHost(host string) error {
	return s.checkHostIn(&s.store.Current().Config, host)
}

// rawWithID returns body (a JSON object) with its "id" member set to id.
func rawWithID(body json.RawMessage, id string) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return body, nil // not an object: the decoder reports it
	}
	quoted, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	m["id"] = quoted
	return json.Marshal(m)
}
