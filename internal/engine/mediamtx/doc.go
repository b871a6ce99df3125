// Package mediamtx runs MediaMTX as the service's engine: it finds or
// downloads the binary, renders its config, supervises the process and talks
// to its API. It never decodes video.
package mediamtx
