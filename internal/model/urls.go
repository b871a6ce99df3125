package model

import (
	"net"
	"net/url"
	"strconv"
)

// PlaybackURL is where viewers read an engine path over one protocol:
//
//	rtsp   -> rtsp://host:rtsp/path             (rtsps:// when secure)
//	hls    -> http://host:hls/path/index.m3u8   (https:// when secure)
//	webrtc -> http://host:webrtc/path/whep      (https:// when secure)
//
// secure says the engine serves TLS (RTSPS on the RTSP port, HTTPS on the
// HLS and WebRTC ports).
func PlaybackURL(protocol Protocol, host string, ports Ports, path string, secure bool) string {
	u := url.URL{Path: "/" + path}
	web := "http"
	if secure {
		web = "https"
	}
	switch protocol {
	case ProtocolRTSP:
		u.Scheme, u.Host = "rtsp", net.JoinHostPort(host, strconv.Itoa(ports.RTSP))
		if secure {
			u.Scheme = "rtsps"
		}
	case ProtocolHLS:
		u.Scheme, u.Host = web, net.JoinHostPort(host, strconv.Itoa(ports.HLS))
		u.Path += "/index.m3u8"
	case ProtocolWebRTC:
		u.Scheme, u.Host = web, net.JoinHostPort(host, strconv.Itoa(ports.WebRTC))
		u.Path += "/whep"
	default:
		return ""
	}
	return u.String()
}
