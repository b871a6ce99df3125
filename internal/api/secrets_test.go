package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const protected = `{"name":"Vault","path":"vault","outputs":[
  {"id":"rtc","protocol":"webrtc","authentication":{"enabled":true,"username":"viewer","password":"s3cret-pass"}},
  {"id":"hls","protocol":"hls"}]}`

// authOf is output i's authentication in a transmission answer.
func authOf(t *testing.T, tx any, i int) map[string]any {
	t.Helper()
	outs, _ := tx.(map[string]any)["outputs"].([]any)
	if i >= len(outs) {
		t.Fatalf("no output %d in %v", i, tx)
	}
	a, _ := outs[i].(map[string]any)["authentication"].(map[string]any)
	return a
}

// Issue 11's reproduction: GET /settings and GET /transmissions returned
// every viewer password in clear. Answers leave passwords out (null, with
// password_set); ?include_secrets=true shows them; a write that omits the
// password or sends null keeps the stored one.
func TestOutputPasswordsAreWriteOnly(t *testing.T) {
	c := newServer(t, "local")
	created := c.expect(200, "POST", "/transmissions", protected)
	id := created["id"].(string)
	if a := authOf(t, created, 0); a["password"] != nil || a["password_set"] != true || a["username"] != "viewer" {
		t.Errorf("create answer shows %v", a)
	}
	_, list := c.do("GET", "/transmissions", nil)
	settings := c.expect(200, "GET", "/settings", nil)
	for what, tx := range map[string]any{
		"list":     list.([]any)[0],
		"get":      c.expect(200, "GET", "/transmissions/"+id, nil),
		"settings": settings["transmissions"].([]any)[0],
	} {
		if a := authOf(t, tx, 0); a["password"] != nil || a["password_set"] != true {
			t.Errorf("%s shows %v", what, a)
		}
	}
	for _, path := range []string{"/transmissions/" + id + "?include_secrets=true", "/settings?include_secrets=true"} {
		out := c.expect(200, "GET", path, nil)
		tx := any(out)
		if ts, ok := out["transmissions"].([]any); ok {
			tx = ts[0]
		}
		if a := authOf(t, tx, 0); a["password"] != "s3cret-pass" {
			t.Errorf("%s: %v", path, a)
		}
	}

	// Saving what was read (password null) or leaving it out keeps it.
	got := c.expect(200, "GET", "/transmissions/"+id, nil)
	got["name"] = "Vault 2"
	c.expect(200, "PUT", "/transmissions/"+id, got)
	c.expect(200, "PUT", "/transmissions/"+id, `{"name":"Vault 3","path":"vault","outputs":[{"id":"rtc","protocol":"webrtc","authentication":{"enabled":true,"username":"viewer2"}},{"id":"hls","protocol":"hls"}]}`)
	settings = c.expect(200, "GET", "/settings", nil)
	c.expect(200, "PATCH", "/settings", map[string]any{"transmissions": settings["transmissions"]})
	now := c.expect(200, "GET", "/transmissions/"+id+"?include_secrets=true", nil)
	if a := authOf(t, now, 0); a["password"] != "s3cret-pass" || a["username"] != "viewer2" || now["name"] != "Vault 3" {
		t.Errorf("after saving without the password: %v (name %v)", a, now["name"])
	}
	raw, err := os.ReadFile(filepath.Join(c.dir, "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"s3cret-pass"`) || strings.Contains(string(raw), "password_set") {
		t.Errorf("settings.json lost the password or stores answer fields:\n%s", raw)
	}

	// A new password replaces it; an empty one clears it.
	c.expect(200, "PUT", "/transmissions/"+id, `{"name":"Vault","path":"vault","outputs":[{"id":"rtc","protocol":"webrtc","authentication":{"enabled":true,"username":"viewer","password":"n3w"}}]}`)
	if a := authOf(t, c.expect(200, "GET", "/transmissions/"+id+"?include_secrets=true", nil), 0); a["password"] != "n3w" {
		t.Errorf("new password not stored: %v", a)
	}
	c.expect(200, "PUT", "/transmissions/"+id, `{"name":"Vault","path":"vault","outputs":[{"id":"rtc","protocol":"webrtc","authentication":{"enabled":true,"username":"viewer","password":""}}]}`)
	if a := authOf(t, c.expect(200, "GET", "/transmissions/"+id, nil), 0); a["password_set"] != false {
		t.Errorf("empty password did not clear it: %v", a)
	}
	// A password is never carried over to another output id.
	c.expect(200, "PUT", "/transmissions/"+id, `{"name":"Vault","path":"vault","outputs":[{"id":"rtc","protocol":"webrtc","authentication":{"enabled":true,"username":"viewer","password":"p1"}}]}`)
	c.expect(200, "PUT", "/transmissions/"+id, `{"name":"Vault","path":"vault","outputs":[{"id":"other","protocol":"webrtc","authentication":{"enabled":true,"username":"viewer"}}]}`)
	if a := authOf(t, c.expect(200, "GET", "/transmissions/"+id, nil), 0); a["password_set"] != false {
		t.Errorf("a new output inherited a password: %v", a)
	}
}
