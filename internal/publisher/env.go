package publisher

import (
	"os"
	"strings"
)

// childEnvKeep are the environment variables a child process inherits:
// what programs need to run (PATH, locale, time zone, temp dir) and what
// hardware encoders read (VA-API, CUDA, Intel media). Everything else stays
// with the service: its own API and sync credentials, TLS paths, and
// MediaMTX's MTX_* overrides, which would change the config we write.
var childEnvKeep = []string{"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "LC_", "LIBVA_", "CUDA_", "NVIDIA_", "INTEL_", "ONEVPL_", "MFX_"}

// ChildEnv is the environment of a child process: the variables of environ
// that childEnvKeep names (exactly, or by prefix for names ending in "_").
func ChildEnv(environ []string) []string {
	out := []string{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		for _, keep := range childEnvKeep {
			if name == keep || strings.HasSuffix(keep, "_") && strings.HasPrefix(name, keep) {
				out = append(out, kv)
				break
			}
		}
	}
	return out
}

// childEnv is ChildEnv of this process's environment plus extra.
func childEnv(extra []string) []string {
	return append(ChildEnv(os.Environ()), extra...)
}
