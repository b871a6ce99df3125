package embedded

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/toposync/toposync-streaming/internal/model"
	"github.com/toposync/toposync-streaming/internal/testutil"
)

// mediaPlaylist is what a client of /<path>/index.m3u8 reads: the
// multivariant playlist's first media playlist. base is the path's URL.
func mediaPlaylist(t *testing.T, base string) (name, body string) {
	t.Helper()
	res, multi := httpGet(t, base+"index.m3u8", "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("index.m3u8: %d %q", res.StatusCode, multi)
	}
	for _, l := range strings.Split(string(multi), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			name = l
			break
		}
	}
	if name == "" {
		t.Fatalf("multivariant playlist lists no media playlist:\n%s", multi)
	}
	res, media := httpGet(t, base+name, "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %q", name, res.StatusCode, media)
	}
	return name, string(media)
}

// uris are the segment URIs of a media playlist, and the EXT-X-MAP URI.
func uris(media string) (segments []string, initFile string) {
	for _, l := range strings.Split(media, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#EXT-X-MAP:"):
			_, after, _ := strings.Cut(l, `URI="`)
			initFile, _, _ = strings.Cut(after, `"`)
		case l != "" && !strings.HasPrefix(l, "#"):
			segments = append(segments, l)
		}
	}
	return segments, initFile
}

// nextPart is the (msn, part) of the first part a Low-Latency playlist
// does not list yet: the parts after its last whole segment.
func nextPart(t *testing.T, media string) (msn, part int) {
	t.Helper()
	for _, l := range strings.Split(media, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"):
			n, err := strconv.Atoi(strings.TrimPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"))
			if err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			msn += n
		case strings.HasPrefix(l, "#EXT-X-PART:"):
			part++
		case l != "" && !strings.HasPrefix(l, "#"):
			msn, part = msn+1, 0
		}
	}
	return msn, part
}

// boxType is the type of the first ISO BMFF box in b.
func boxType(b []byte) string {
	if len(b) < 8 {
		return ""
	}
	return string(b[4:8])
}

// Issue 14 item 2: every engine.hls_variant plays (ffprobe through the
// real ffmpeg HLS demuxer) and is what it says: MPEG-TS segments; fMP4
// with an init file and .mp4 segments; Low-Latency HLS with parts and
// blocking playlist reloads (_HLS_msn/_HLS_part answered once the part
// exists).
func TestHLSVariantsPlay(t *testing.T) {
	testutil.RequireFFmpegAndFFprobe(t)
	for _, v := range model.HLSVariants {
		t.Run(string(v), func(t *testing.T) {
			ts := newTestServer(t, []PathConfig{{Name: "cam"}}, func(c *Config) { c.HLSVariant = v })
			startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "cam"))
			ts.waitReady(t, "cam", 15*time.Second)
			base := "http://" + ts.hlsAddr + "/cam/"
			start := time.Now()
			name, media := mediaPlaylist(t, base)
			segs, initFile := uris(media)
			if len(segs) == 0 {
				t.Fatalf("no segment in %s:\n%s", name, media)
			}
			last := segs[len(segs)-1]
			res, seg := httpGet(t, base+last, "", "")
			if res.StatusCode != http.StatusOK || len(seg) == 0 {
				t.Fatalf("segment %s: %d, %d bytes", last, res.StatusCode, len(seg))
			}
			t.Logf("%s: playlist and last segment after %v", v, time.Since(start))
			parts := strings.Contains(media, "#EXT-X-PART:")
			control := strings.Contains(media, "#EXT-X-SERVER-CONTROL:") && strings.Contains(media, "CAN-BLOCK-RELOAD=YES")
			switch v {
			case model.HLSMPEGTS:
				if !strings.HasSuffix(last, ".ts") || initFile != "" || parts || seg[0] != 0x47 {
					t.Errorf("mpegts playlist (segment starts %#x):\n%s", seg[0], media)
				}
			case model.HLSFMP4, model.HLSLowLatency:
				if !strings.HasSuffix(last, ".mp4") || !strings.HasSuffix(initFile, ".mp4") {
					t.Fatalf("%s playlist without init.mp4 and .mp4 segments:\n%s", v, media)
				}
				res, init := httpGet(t, base+initFile, "", "")
				if res.StatusCode != http.StatusOK || boxType(init) != "ftyp" {
					t.Errorf("init file %s: %d, box %q", initFile, res.StatusCode, boxType(init))
				}
				if bt := boxType(seg); bt != "moof" && bt != "styp" {
					t.Errorf("segment %s starts with box %q, want moof or styp", last, bt)
				}
				if v == model.HLSFMP4 && (parts || control) {
					t.Errorf("fmp4 playlist has Low-Latency tags:\n%s", media)
				}
				if v == model.HLSLowLatency {
					if !parts || !control {
						t.Fatalf("lowLatency playlist lacks #EXT-X-PART or #EXT-X-SERVER-CONTROL with CAN-BLOCK-RELOAD:\n%s", media)
					}
					msn, part := nextPart(t, media)
					asked := time.Now()
					res, blocked := httpGet(t, fmt.Sprintf("%s%s?_HLS_msn=%d&_HLS_part=%d", base, name, msn, part), "", "")
					if res.StatusCode != http.StatusOK {
						t.Fatalf("blocking reload for part %d.%d: %d %q", msn, part, res.StatusCode, blocked)
					}
					if gotMSN, gotPart := nextPart(t, string(blocked)); gotMSN < msn || (gotMSN == msn && gotPart <= part) {
						t.Errorf("blocking reload for part %d.%d answered a playlist without it (next %d.%d):\n%s", msn, part, gotMSN, gotPart, blocked)
					}
					t.Logf("blocking reload for the next part answered after %v", time.Since(asked))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if out, err := ffprobeVideo(ctx, base+"index.m3u8"); err != nil || out != "h264,640,360" {
				t.Fatalf("ffprobe %s: %q %v", v, out, err)
			}
		})
	}
}

// A variant change reaches the running server: the path's muxer of the old
// variant is closed and the next playlist request gets the new one, while
// an RTSP reader of the path keeps receiving. Setting the same variant
// again leaves the muxer alone.
func TestHLSVariantChangesLive(t *testing.T) {
	testutil.RequireFFmpeg(t)
	ts := newTestServer(t, []PathConfig{{Name: "cam"}}, nil)
	startFFmpeg(t, rtspURL(ts.rtspAddr, "", "", "cam"))
	ts.waitReady(t, "cam", 15*time.Second)
	rr, err := startRTSPReader(t, ts.rtspAddr, "", "", "cam")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ts.hlsAddr + "/cam/"
	if _, media := mediaPlaylist(t, base); strings.Contains(media, "#EXT-X-PART:") || !strings.Contains(media, ".ts") {
		t.Fatalf("default variant is not mpegts:\n%s", media)
	}
	p := ts.lookup("cam")
	muxer := func() *hlsMuxer {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.hls
	}
	before := muxer()
	ts.SetHLSVariant(model.HLSMPEGTS)
	if muxer() != before {
		t.Fatal("setting the variant it has closed the muxer")
	}
	packets := rr.packetCount()
	ts.SetHLSVariant(model.HLSLowLatency)
	if m := muxer(); m != nil {
		t.Fatal("the mpegts muxer survived a change to lowLatency")
	}
	if _, media := mediaPlaylist(t, base); !strings.Contains(media, "#EXT-X-PART:") {
		t.Fatalf("after the change the playlist is not Low-Latency:\n%s", media)
	}
	testutil.Eventually(t, 5*time.Second, "the RTSP reader still receiving", func() bool { return rr.packetCount() > packets })
}
