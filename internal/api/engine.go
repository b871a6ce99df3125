package api

import (
	"context"
	"fmt"
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

// engineDownload installs the configured engine kind's program without
// starting it (nothing to do for the embedded engine). The download goes on
// when the client gives up waiting: a later call or a start finds it done.
func (s *server) engineDownload(w http.ResponseWriter, r *http.Request) {
	if err := s.engine.Download(context.WithoutCancel(r.Context())); err != nil {
		s.log.Error("engine download failed", "err", err)
		writeDetail(w, http.StatusBadGateway, "Failed to download MediaMTX engine: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.engine.Status(s.viewerHost(r)))
}

// engineReclaim stops stray engine processes of this data dir (see
// engine.Manager.Reclaim) and answers the status, saying what it stopped.
func (s *server) engineReclaim(w http.ResponseWriter, r *http.Request) {
	pids, err := s.engine.Reclaim()
	if err != nil {
		s.log.Error("engine reclaim failed", "err", err)
		writeDetail(w, http.StatusInternalServerError, fmt.Sprintf("Failed to reclaim streaming engine: %v (killed %d stale process(es))", err, len(pids)))
		return
	}
	st := s.engine.Status(s.viewerHost(r))
	if len(pids) > 0 {
		st.Warnings = append([]string{fmt.Sprintf("Cleaned up %d stale MediaMTX process(es).", len(pids))}, st.Warnings...)
	}
	writeJSON(w, http.StatusOK, st)
}
