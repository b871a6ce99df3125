package model

import (
	"net"
	"net/url"
	"strconv"
)

// PlaybackURL is where viewers read an engine path over one protocol:
//
//	rtsp   -> rtsp://host:rtsp/path
//	hls    -> http://host:hls/path/index.m3u8
//	webrtc -> http://host:webrtc/path/whep
func PlaybackURL(protocol Protocol, host string, ports Ports, path string) string {
	u := url.URL{Path: "/" + path}
	switch protocol {
	case ProtocolRTSP:
		u.Scheme, u.Host = "rtsp", net.JoinHostPort(host, strconv.Itoa(ports.RTSP))
	case ProtocolHLS:
		u.Scheme, u.Host = "http", net.JoinHostPort(host, strconv.Itoa(ports.HLS))
		u.Path += "/index.m3u8"
	case ProtocolWebRTC:
		u.Scheme, u.Host = "http", net.JoinHostPort(host, strconv.Itoa(ports.WebRTC))
		u.Path += "/whep"
	default:
		return ""
	}
	return u.String()
}
