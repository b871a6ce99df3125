package api

import (
	"crypto/subtle"
	"net/http"

	"github.com/toposync/toposync-streaming/internal/model"
)

// distributedSettings is GET /distributed/settings/{server_id}: the settings
// a processing server needs, with only the transmissions it hosts. When sync
// credentials are configured, the request must carry them (Basic auth).
func (s *server) distributedSettings(w http.ResponseWriter, r *http.Request) {
	if s.syncUser != "" && s.syncPass != "" {
		user, pass, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.syncUser)) != 1 || subtle.ConstantTimeCompare([]byte(pass), []byte(s.syncPass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="toposync-streaming sync"`)
			writeDetail(w, http.StatusUnauthorized, "Authentication required")
			return
		}
	}
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
