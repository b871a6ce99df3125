// Package testutil holds the helpers that the tests of several packages
// share: polling until a condition holds, picking free ports, skipping (or,
// in CI, failing) when an external tool such as ffmpeg is missing, and a
// goroutine-safe buffer for a subprocess's output, and a self-signed
// certificate for TLS tests.
//
// It is for tests only. Its files are ordinary .go files so that other
// packages' _test.go files can import it, but production code must never
// import it.
package testutil
