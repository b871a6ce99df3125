package api

import (
	"net/http"
)

func (s *server) engineStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.engine.Status(s.viewerHost(r)))
}

// engineAction runs a lifecycle action and answers the resulting status.
func (s *server) engineAction(action func() error, failure string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := action(); err != nil {
			s.log.Error(failure, "err", err)
			writeDetail(w, http.StatusInternalServerError, failure+": "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, s.engine.Status(s.viewerHost(r)))
	}
}
