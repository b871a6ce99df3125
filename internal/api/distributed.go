package api

import (
	"net/http"

	"github.com/toposync/toposync-streaming/internal/model"
)

// distributedSettings is GET /distributed/settings/{server_id}: the settings
// a processing server needs, with only the transmissions it hosts, secrets
// included (the processing server's engine needs the read credentials).
// Who may call it is internal/access's decision (the sync credentials).
func (s *server) distributedSettings(w http.ResponseWriter, r *http.Request) {
	id := model.NormalizeHostID(r.PathValue("server_id"))
	if err := s.checkHost(id); err != nil {
		s.writeError(w, r, err)
		return
	}
	settings := s.store.Current().Streams
	filtered := settings
	filtered.Transmissions = []model.Transmission{}
	for _, t := range settings.Transmissions {
		if model.HostedHere(t.HostServerID, id) {
			filtered.Transmissions = append(filtered.Transmissions, t)
		}
	}
	writeJSON(w, http.StatusOK, filtered)
}
