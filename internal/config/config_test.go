package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAndOverrides(t *testing.T) {
	home, _ := os.UserHomeDir()
	if got := Listen(env(nil)); got != "127.0.0.1:8100" {
		t.Errorf("Listen default = %s", got)
	}
	if got := Listen(env(map[string]string{EnvListen: " 0.0.0.0:9000 "})); got != "0.0.0.0:9000" {
		t.Errorf("Listen env = %s", got)
	}
	if got := DataDir(env(nil)); got != filepath.Join(home, ".toposync") {
		t.Errorf("DataDir default = %s", got)
	}
	if got := DataDir(env(map[string]string{EnvDataDir: "~/x"})); got != filepath.Join(home, "x") {
		t.Errorf("DataDir ~ = %s", got)
	}
	if got := CameraFilesDir(env(nil), "/d"); got != "/d/media" {
		t.Errorf("CameraFilesDir default = %s", got)
	}
	if got := CameraFilesDir(env(map[string]string{EnvCameraFilesDir: " ~/clips "}), "/d"); got != filepath.Join(home, "clips") {
		t.Errorf("CameraFilesDir ~ = %s", got)
	}
	wd, _ := os.Getwd()
	if got := CameraFilesDir(env(map[string]string{EnvCameraFilesDir: "clips"}), "/d"); got != filepath.Join(wd, "clips") {
		t.Errorf("CameraFilesDir relative = %s", got)
	}
	if got := RuntimeDir("/d"); got != "/d/runtime/streaming" {
		t.Errorf("RuntimeDir = %s", got)
	}
}

func TestServerID(t *testing.T) {
	cases := []struct {
		env      map[string]string
		id       string
		warnings bool
	}{
		{nil, "local", false},
		{map[string]string{EnvProcessingServerID: "edge"}, "local", false},
		{map[string]string{EnvRole: "processing", EnvProcessingServerID: " Edge-1 "}, "edge-1", false},
		{map[string]string{EnvRole: "PROCESSING"}, "local", true},
	}
	for _, c := range cases {
		id, warning := ServerID(env(c.env))
		if id != c.id || (warning != "") != c.warnings {
			t.Errorf("ServerID(%v) = %q, %q", c.env, id, warning)
		}
	}
}

func TestWebRTCAdditionalHosts(t *testing.T) {
	got := WebRTCAdditionalHosts(env(map[string]string{EnvWebRTCAdditionalHosts: " 192.168.1.5, cam.local;CAM.local,, 10.0.0.2 "}))
	if want := []string{"192.168.1.5", "cam.local", "10.0.0.2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("hosts = %q, want %q", got, want)
	}
}

func TestSyncSettings(t *testing.T) {
	if got := SyncCoreURL(env(map[string]string{EnvCoreURL: "http://core:8100/"})); got != "http://core:8100" {
		t.Errorf("SyncCoreURL fallback = %s", got)
	}
	if got := SyncCoreURL(env(map[string]string{EnvCoreURL: "http://a", EnvSyncCoreURL: " http://b "})); got != "http://b" {
		t.Errorf("SyncCoreURL = %s", got)
	}
	for v, want := range map[string]time.Duration{"": 5 * time.Second, "x": 5 * time.Second, "NaN": 5 * time.Second, "0": time.Second, "-3": time.Second, "2.5": 2500 * time.Millisecond, "10": 10 * time.Second} {
		if got := SyncSeconds(env(map[string]string{EnvSyncInterval: v}), EnvSyncInterval); got != want {
			t.Errorf("SyncSeconds(%q) = %v, want %v", v, got, want)
		}
	}
}
