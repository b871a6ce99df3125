// Package mediamtx runs MediaMTX as the service's engine: it finds or
// downloads the binary, renders its config, supervises the process, talks
// to its API and holds the service's own RTSP publish sessions into it
// (sinks, see sink.go). It never decodes video.
package mediamtx
