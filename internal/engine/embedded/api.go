package embedded

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The engine API answers GET /v3/paths/list and /v3/paths/get/{name} in
// MediaMTX v1.20's shape, so tools written for MediaMTX can read our paths
// and readers.

type apiRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type apiTrack struct {
	Codec      string         `json:"codec"`
	CodecProps map[string]any `json:"codecProps"`
}

type apiPath struct {
	Name                 string     `json:"name"`
	ConfName             string     `json:"confName"`
	Source               *apiRef    `json:"source"`
	Ready                bool       `json:"ready"`
	ReadyTime            *time.Time `json:"readyTime"`
	Available            bool       `json:"available"`
	AvailableTime        *time.Time `json:"availableTime"`
	Online               bool       `json:"online"`
	OnlineTime           *time.Time `json:"onlineTime"`
	Tracks               []string   `json:"tracks"`
	Tracks2              []apiTrack `json:"tracks2"`
	Readers              []apiRef   `json:"readers"`
	InboundBytes         uint64     `json:"inboundBytes"`
	OutboundBytes        uint64     `json:"outboundBytes"`
	InboundFramesInError uint64     `json:"inboundFramesInError"`
	BytesReceived        uint64     `json:"bytesReceived"`
	BytesSent            uint64     `json:"bytesSent"`
}

type apiList struct {
	ItemCount int       `json:"itemCount"`
	PageCount int       `json:"pageCount"`
	Items     []apiPath `json:"items"`
}

func toAPIPath(p PathInfo) apiPath {
	out := apiPath{
		Name: p.Name, ConfName: p.Name, Ready: p.Ready, Available: p.Ready, Online: p.Ready,
		Tracks: []string{}, Tracks2: []apiTrack{}, Readers: []apiRef{},
		InboundBytes: p.BytesReceived, OutboundBytes: p.BytesSent, BytesReceived: p.BytesReceived, BytesSent: p.BytesSent,
	}
	if p.Ready {
		t := p.ReadyTime.UTC()
		out.ReadyTime, out.AvailableTime, out.OnlineTime = &t, &t, &t
	}
	if p.Source != nil {
		out.Source = &apiRef{Type: p.Source.Type, ID: p.Source.ID}
	}
	for _, t := range p.Tracks {
		out.Tracks = append(out.Tracks, t.Codec)
		props := map[string]any{}
		if t.Width > 0 {
			props["width"], props["height"] = t.Width, t.Height
		}
		if t.Profile != "" {
			props["profile"], props["level"] = t.Profile, t.Level
		}
		out.Tracks2 = append(out.Tracks2, apiTrack{Codec: t.Codec, CodecProps: props})
	}
	for _, r := range p.Readers {
		out.Readers = append(out.Readers, apiRef{Type: r.Type, ID: r.ID})
	}
	return out
}

func apiHandler(s *Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v3/paths/list", func(w http.ResponseWriter, r *http.Request) {
		items := []apiPath{}
		for _, p := range s.Paths() {
			items = append(items, toAPIPath(p))
		}
		page, perPage := queryInt(r, "page", 0), queryInt(r, "itemsPerPage", 100)
		if perPage < 1 {
			perPage = 100
		}
		out := apiList{ItemCount: len(items), PageCount: (len(items) + perPage - 1) / perPage, Items: []apiPath{}}
		if start := page * perPage; start < len(items) {
			out.Items = items[start:min(len(items), start+perPage)]
		}
		writeAPI(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v3/paths/get/{name...}", func(w http.ResponseWriter, r *http.Request) {
		for _, p := range s.Paths() {
			if p.Name == r.PathValue("name") {
				writeAPI(w, http.StatusOK, toAPIPath(p))
				return
			}
		}
		writeAPI(w, http.StatusNotFound, map[string]string{"status": "error", "error": "path not found"})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPI(w, http.StatusNotFound, map[string]string{"status": "error", "error": "not found"})
	})
	return mux
}

func queryInt(r *http.Request, key string, def int) int {
	if n, err := strconv.Atoi(r.URL.Query().Get(key)); err == nil && n >= 0 {
		return n
	}
	return def
}

func writeAPI(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
