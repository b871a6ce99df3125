package mediamtx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
)

// itemsPerPage is the page size asked of list endpoints (MediaMTX's default).
const itemsPerPage = 100

// APIClient talks to MediaMTX v1.20.1's control API (v3). BaseURL is
// "http://127.0.0.1:<api port>"; a nil Client is http.DefaultClient. Each
// call is bounded by Timeout (DefaultAPITimeout when zero): a MediaMTX
// whose reload hangs (seen when the ICE servers change while a WHEP session
// plays) must not hold the engine manager.
type APIClient struct {
	BaseURL string
	Client  *http.Client
	Timeout time.Duration
}

// DefaultAPITimeout bounds one call to MediaMTX's API.
const DefaultAPITimeout = 10 * time.Second

// APIError is a refusal by MediaMTX: the request, the HTTP status and
// MediaMTX's error text.
type APIError struct {
	Request string // "POST /v3/config/paths/add/cam"
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("MediaMTX API %s: %d %s: %s", e.Request, e.Status, http.StatusText(e.Status), e.Message)
}

// GlobalPatch is a body of /v3/config/global/patch: the settings that
// change on a running MediaMTX without a restart. Nil members stay as they
// are.
type GlobalPatch struct {
	AuthInternalUsers []AuthUser   `json:"authInternalUsers,omitempty"`
	WebRTCICEServers2 *[]ICEServer `json:"webrtcICEServers2,omitempty"`
	// HLSVariant set makes MediaMTX restart its HLS server (HLS players
	// reload; RTSP and WebRTC readers stay).
	HLSVariant string `json:"hlsVariant,omitempty"`
}

// Ready reports whether the API answers.
func (c *APIClient) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/v3/config/global/get", nil, nil)
}

// PathsList lists the readers of every path MediaMTX has now, reading
// every page. Reader.Since is zero: MediaMTX does not say.
func (c *APIClient) PathsList(ctx context.Context) (map[string][]engine.Reader, error) {
	out := map[string][]engine.Reader{}
	for page, pages := 0, 1; page < pages; page++ {
		var resp struct {
			PageCount int `json:"pageCount"`
			Items     []struct {
				Name    string          `json:"name"`
				Readers []engine.Reader `json:"readers"`
			} `json:"items"`
		}
		q := url.Values{"page": {fmt.Sprint(page)}, "itemsPerPage": {fmt.Sprint(itemsPerPage)}}
		if err := c.do(ctx, http.MethodGet, "/v3/paths/list?"+q.Encode(), nil, &resp); err != nil {
			return nil, err
		}
		for _, it := range resp.Items {
			out[it.Name] = append(out[it.Name], it.Readers...)
		}
		pages = resp.PageCount // paths may come and go between pages
	}
	return out, nil
}

// AddPath configures a new path on the running MediaMTX.
func (c *APIClient) AddPath(ctx context.Context, name string, conf PathConf) error {
	return c.pathConfig(ctx, http.MethodPost, "add", name, conf)
}

// ReplacePath replaces a path's whole configuration.
func (c *APIClient) ReplacePath(ctx context.Context, name string, conf PathConf) error {
	return c.pathConfig(ctx, http.MethodPost, "replace", name, conf)
}

// DeletePath removes a path; its sessions end.
func (c *APIClient) DeletePath(ctx context.Context, name string) error {
	return c.pathConfig(ctx, http.MethodDelete, "delete", name, nil)
}

// PatchGlobal changes global settings on the running MediaMTX.
func (c *APIClient) PatchGlobal(ctx context.Context, p GlobalPatch) error {
	return c.do(ctx, http.MethodPatch, "/v3/config/global/patch", p, nil)
}

func (c *APIClient) pathConfig(ctx context.Context, method, op, name string, body any) error {
	if err := validPathName(name); err != nil {
		return err
	}
	return c.do(ctx, method, "/v3/config/paths/"+op+"/"+name, body, nil)
}

// do sends one request with body as JSON (nil: none) and decodes a 200
// answer into out (nil: ignored).
func (c *APIClient) do(ctx context.Context, method, path string, body, out any) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultAPITimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("MediaMTX API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("MediaMTX API %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		// Errors are {"status":"error","error":"…"}; keep the raw text otherwise.
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = string(bytes.TrimSpace(data))
		}
		return &APIError{Request: method + " " + path, Status: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("MediaMTX API %s %s: %w", method, path, err)
	}
	return nil
}
