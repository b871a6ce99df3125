package mediamtx

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/engine"
	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

func TestPathsListReadsEveryPage(t *testing.T) {
	const total = 250
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("itemsPerPage"))
		type item struct {
			Name    string          `json:"name"`
			Readers []engine.Reader `json:"readers"`
		}
		resp := struct {
			ItemCount int    `json:"itemCount"`
			PageCount int    `json:"pageCount"`
			Items     []item `json:"items"`
		}{ItemCount: total, PageCount: (total + per - 1) / per, Items: []item{}}
		for i := page * per; i < min((page+1)*per, total); i++ {
			resp.Items = append(resp.Items, item{Name: fmt.Sprintf("p%d", i), Readers: []engine.Reader{{Type: "rtspSession", ID: strconv.Itoa(i)}}})
		}
		json.NewEncoder(w).Encode(resp)
	}))
	defer srv.Close()
	got, err := (&APIClient{BaseURL: srv.URL, Client: srv.Client()}).PathsList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != total || got["p249"][0] != (engine.Reader{Type: "rtspSession", ID: "249"}) {
		t.Errorf("got %d paths, p249 = %v", len(got), got["p249"])
	}
}

func TestAPIErrorCarriesMediaMTXText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"status":"error","error":"path already exists"}`)
	}))
	defer srv.Close()
	err := (&APIClient{BaseURL: srv.URL}).AddPath(context.Background(), "cam", PathConf{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Message != "path already exists" || ae.Request != "POST /v3/config/paths/add/cam" {
		t.Fatalf("err = %#v", err)
	}
	if err := (&APIClient{BaseURL: srv.URL}).DeletePath(context.Background(), "all_others"); err == nil || errors.As(err, &ae) {
		t.Errorf("reserved name not refused before the request: %v", err)
	}
}

// mediamtxBinary extracts the v1.20.1 binary for this platform from the
// mirror into a temporary directory.
func mediamtxBinary(t *testing.T) string {
	t.Helper()
	asset := fmt.Sprintf("mediamtx_v1.20.1_%s_%s.tar.gz", runtime.GOOS, runtime.GOARCH)
	f, err := os.Open(filepath.Join(testutil.MediaMTXMirror(t), "v1.20.1", asset))
	if err != nil {
		testutil.SkipOrFail(t, "MediaMTX mirror has no %s: %v", asset, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no mediamtx in %s: %v", asset, err)
		}
		if h.Name != "mediamtx" {
			continue
		}
		bin := filepath.Join(t.TempDir(), "mediamtx")
		out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
		return bin
	}
}

// startMediaMTX runs the binary on the rendered config until the test ends
// (SIGTERM, then kill) and waits for its API. running reports whether the
// process still runs.
func startMediaMTX(t *testing.T, c ConfigInput) (api *APIClient, running func() bool) {
	t.Helper()
	bin := mediamtxBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mediamtx.yml")
	if err := WriteConfig(cfg, c); err != nil {
		t.Fatal(err)
	}
	var logs testutil.SyncBuffer
	cmd := exec.Command(bin, cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			t.Error("MediaMTX ignored SIGTERM for 5s; killed")
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("MediaMTX log:\n%s", logs.String())
		}
	})
	api = &APIClient{BaseURL: fmt.Sprintf("http://127.0.0.1:%d", c.Ports.API)}
	testutil.Eventually(t, 10*time.Second, "the MediaMTX API", func() bool {
		select {
		case <-exited:
			t.Fatalf("MediaMTX exited: %v\n%s", cmd.ProcessState, logs.String())
		default:
		}
		return api.Ready(context.Background()) == nil
	})
	return api, func() bool {
		select {
		case <-exited:
			return false
		default:
			return true
		}
	}
}

// rtspURL is the RTSP URL of path with optional credentials.
func rtspURL(port int, path string, user *url.Userinfo) string {
	u := url.URL{Scheme: "rtsp", Host: fmt.Sprintf("127.0.0.1:%d", port), Path: "/" + path, User: user}
	return u.String()
}

// ffmpegPublish is an ffmpeg argv that publishes a short-GOP test pattern
// to dst; extra goes before the output.
func ffmpegPublish(dst string, extra ...string) []string {
	args := []string{"ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
		"-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "15"}
	args = append(args, extra...)
	return append(args, "-f", "rtsp", "-rtsp_transport", "tcp", dst)
}

// probe runs ffprobe on an RTSP URL and returns the codec it found or its
// error output.
func probe(t *testing.T, src string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name", "-of", "csv=p=0", src).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// The real MediaMTX v1.20.1 takes our config: the paths and only them, live
// path edits, credentials with awkward characters, loopback-only publish
// and the on-demand hook as we quote it.
func TestRealMediaMTX(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	ports := testutil.FreePorts(t, 4)
	// No ':' in passwords: MediaMTX v1.20.1 refuses RTSP Basic credentials
	// whose password contains one.
	const readUser, readPass = "o'viewer", "it's a#secret"
	const pubUser, pubPass = "pub_cam", "p'w#1"
	in := ConfigInput{
		BindHost: "127.0.0.1",
		Ports:    model.Ports{RTSP: ports[0], HLS: ports[1], WebRTC: ports[2], API: ports[3], RTP: testutil.FreeRTPPort(t)},
		Paths: []PathInput{
			{Path: engine.Path{Name: "cam", ReadUser: readUser, ReadPass: readPass, PublishUser: pubUser, PublishPass: pubPass}},
			{Path: engine.Path{Name: "ondemand", PublishUser: "pub_od", PublishPass: "od-pw"}, OnDemand: true, CloseAfter: time.Second},
		},
		WebRTCLocalUDPAddress: "127.0.0.1:0",
	}
	// The hook publishes itself; an argument with a quote and spaces checks
	// that MediaMTX splits the command as we joined it. (A real hook gets no
	// secret in its argv; this test's URL is a throwaway.)
	in.Hook = ffmpegPublish(rtspURL(ports[0], "ondemand", url.UserPassword("pub_od", "od-pw")), "-metadata", "title=it's on demand")
	api, running := startMediaMTX(t, in)
	ctx := context.Background()

	paths, err := api.PathsList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := paths["cam"]; !ok || len(paths) != 2 {
		t.Fatalf("paths = %v, want cam and ondemand", paths)
	}

	// Publishing needs the path's publish credentials.
	if out, err := exec.Command("ffmpeg", ffmpegPublish(rtspURL(ports[0], "cam", nil), "-t", "1")[1:]...).CombinedOutput(); err == nil {
		t.Errorf("anonymous publish accepted:\n%s", out)
	} else if !strings.Contains(string(out), "401") {
		t.Errorf("anonymous publish failed without 401:\n%s", out)
	}
	pub := exec.Command("ffmpeg", ffmpegPublish(rtspURL(ports[0], "cam", url.UserPassword(pubUser, pubPass)))[1:]...)
	var pubLog testutil.SyncBuffer
	pub.Stderr = &pubLog
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		pub.Process.Signal(os.Interrupt)
		pub.Wait()
	}()

	// Reading cam needs its read credentials.
	var codec string
	testutil.Eventually(t, 15*time.Second, "cam readable with credentials", func() bool {
		codec, err = probe(t, rtspURL(ports[0], "cam", url.UserPassword(readUser, readPass)))
		return err == nil && codec == "h264"
	})
	if out, err := probe(t, rtspURL(ports[0], "cam", nil)); err == nil || !strings.Contains(out, "401") {
		t.Errorf("anonymous read of cam: %v %s", err, out)
	}
	// MediaMTX v1.20.1 answers an unconfigured path over RTSP with 400
	// ("path 'nope' is not configured"; HLS answers 500), never with a stream.
	if out, err := probe(t, rtspURL(ports[0], "nope", nil)); err == nil || !strings.Contains(out, "400") {
		t.Errorf("unconfigured path over RTSP: %v %s", err, out)
	}

	// The hook starts on the first reader and publishes.
	if codec, err := probe(t, rtspURL(ports[0], "ondemand", nil)); err != nil || codec != "h264" {
		hook, _ := hookCommand(in.Hook)
		t.Errorf("on-demand read: %v %s\nrunOnDemand: %s", err, codec, hook)
	}

	// Paths come and go live, and a reader of another path stays.
	reader := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
		"-i", rtspURL(ports[0], "cam", url.UserPassword(readUser, readPass)), "-f", "null", "-")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		reader.Process.Signal(os.Interrupt)
		reader.Wait()
	}()
	var before []engine.Reader
	testutil.Eventually(t, 10*time.Second, "cam's reader listed", func() bool {
		paths, err := api.PathsList(ctx)
		before = paths["cam"]
		return err == nil && len(before) == 1 && before[0].Type == "rtspSession" && before[0].ID != ""
	})
	added := PathInput{Path: engine.Path{Name: "added", PublishUser: "pub_added", PublishPass: "added-pw"}}
	conf, err := NewPathConf(added, in.Hook)
	if err != nil {
		t.Fatal(err)
	}
	if err := api.AddPath(ctx, "added", conf); err != nil {
		t.Fatal(err)
	}
	users, err := AuthUsers([]engine.Path{in.Paths[0].Path, in.Paths[1].Path, added.Path})
	if err != nil {
		t.Fatal(err)
	}
	ice := ICEServers([]string{"turn:u:p@127.0.0.1:3478"})
	if err := api.PatchGlobal(ctx, GlobalPatch{AuthInternalUsers: users, WebRTCICEServers2: &ice}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "path added listed", func() bool {
		paths, err := api.PathsList(ctx)
		_, ok := paths["added"]
		return err == nil && ok
	})
	pubCtx, cancelPub := context.WithTimeout(ctx, 20*time.Second)
	defer cancelPub()
	addedPub := exec.CommandContext(pubCtx, "ffmpeg", ffmpegPublish(rtspURL(ports[0], "added", url.UserPassword("pub_added", "added-pw")), "-t", "5")[1:]...)
	if err := addedPub.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "added readable", func() bool {
		codec, err := probe(t, rtspURL(ports[0], "added", nil))
		return err == nil && codec == "h264"
	})
	addedPub.Wait()
	if err := api.DeletePath(ctx, "added"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "path added gone", func() bool {
		paths, err := api.PathsList(ctx)
		_, ok := paths["added"]
		return err == nil && !ok
	})
	var ae *APIError
	if err := api.DeletePath(ctx, "added"); !errors.As(err, &ae) || ae.Message == "" {
		t.Errorf("second delete: %v", err)
	}
	paths, err = api.PathsList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after := paths["cam"]; len(after) != 1 || after[0] != before[0] {
		t.Errorf("cam's reader %v became %v across path edits", before, after)
	}
	if !running() {
		t.Error("MediaMTX exited during live path edits")
	}
	if t.Failed() {
		t.Logf("publisher:\n%s", pubLog.String())
	}
}

// A MediaMTX whose API stops answering (its reload stuck) fails the call
// after Timeout instead of holding the caller.
func TestAPICallsAreBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	c := &APIClient{BaseURL: srv.URL, Timeout: 200 * time.Millisecond}
	began := time.Now()
	err := c.PatchGlobal(context.Background(), GlobalPatch{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want a deadline", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("the call took %v", took)
	}
}
