// Package turbojpeg decodes JPEG into BGR24 with libjpeg-turbo's TurboJPEG
// API. Its code builds only with the turbojpeg build tag (the Makefile's),
// which needs cgo, gcc and libturbojpeg0-dev; package frame uses it then.
// It is a package of its own because a package using cgo cannot hold Go
// assembly, which package frame does.
package turbojpeg
