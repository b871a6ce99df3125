package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "toposync-streaming ") {
		t.Errorf("version: %q, %v", out, err)
	}
}

// The spec's curl quickstart, against the real binary, survives a restart.
func TestQuickstartSurvivesRestart(t *testing.T) {
	data := t.TempDir()
	s := startService(t, data)
	status, out := s.call("POST", "/transmissions", `{"name":"Front Door","path":"front-door","host_server_id":"local","enabled":true,
		"outputs":[{"id":"hls_main","protocol":"hls","enabled":true,"resolution":{"width":1280,"height":720},"fps_limit":12,"bitrate_kbps":2500,"latency_profile":"normal","authentication":{"enabled":false}}]}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	id := out.(map[string]any)["id"].(string)
	if code := s.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if !strings.Contains(s.log.String(), "msg=stopped") {
		t.Errorf("no clean-stop line in the log:\n%s", s.log.String())
	}
	if !strings.Contains(s.log.String(), "data_dir="+data) {
		t.Errorf("the log does not say where data lives")
	}

	s = startService(t, data)
	status, out = s.call("GET", "/transmissions/"+id+"/urls", "")
	if status != 200 {
		t.Fatalf("urls after restart: %d %v", status, out)
	}
	u := out.(map[string]any)["outputs"].([]any)[0].(map[string]any)["url"]
	if u != "http://127.0.0.1:8888/front-door/index.m3u8" {
		t.Errorf("url = %v", u)
	}
	if code := s.stop(syscall.SIGINT); code != 0 {
		t.Errorf("exit code %d after SIGINT", code)
	}
}

func TestRefusesInvalidSettingsFile(t *testing.T) {
	data := t.TempDir()
	file := filepath.Join(data, "settings.json")
	bad := `{"revision":2,"streams":{"engine":{"preferred_ports":{"rtsp":99999}}}}`
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data)
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), file) || !strings.Contains(string(out), "rtsp") {
		t.Errorf("the error does not name the file and the field:\n%s", out)
	}
	if got, _ := os.ReadFile(file); string(got) != bad {
		t.Error("the invalid file was overwritten")
	}
}

func TestListenFromEnvironmentAndFlagWins(t *testing.T) {
	// The environment picks the address when no flag is given...
	cmd := exec.Command(binary, "serve", "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "TOPOSYNC_STREAMING_LISTEN=127.0.0.1:notaport")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "127.0.0.1:notaport") {
		t.Errorf("TOPOSYNC_STREAMING_LISTEN not used:\n%s", out)
	}
	// ...and the flag wins over it (startService passes --listen 127.0.0.1:0).
	s := startService(t, t.TempDir(), "TOPOSYNC_STREAMING_LISTEN=127.0.0.1:notaport")
	s.stop(syscall.SIGTERM)
}

func TestDataDirFromEnvironment(t *testing.T) {
	data := filepath.Join(t.TempDir(), "nested", "data")
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:notaport")
	cmd.Env = append(os.Environ(), "TOPOSYNC_DATA_DIR="+data)
	_, _ = cmd.CombinedOutput()
	if _, err := os.Stat(filepath.Join(data, "settings.json")); err != nil {
		t.Errorf("TOPOSYNC_DATA_DIR not used: %v", err)
	}
}
