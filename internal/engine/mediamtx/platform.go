package mediamtx

import (
	"fmt"
	"runtime"

	"github.com/toposync/toposync-streaming/internal/engine"
)

// platform is one MediaMTX release target: key names the cache folder,
// os and arch name the release asset.
type platform struct {
	key, os, arch string
}

// platformOf maps Go's GOOS/GOARCH to a MediaMTX release target. Only the
// targets upstream publishes as tar.gz for 64-bit Linux and macOS are known.
func platformOf(goos, goarch string) (platform, error) {
	if (goarch != "amd64" && goarch != "arm64") || (goos != "linux" && goos != "darwin") {
		return platform{}, fmt.Errorf("unsupported platform %s/%s for the MediaMTX download (linux and darwin on amd64 or arm64 only); set TOPOSYNC_STREAMING_ENGINE_PATH to a MediaMTX binary built for it", goos, goarch)
	}
	return platform{key: engine.PlatformKey(goos, goarch), os: goos, arch: goarch}, nil
}

// currentPlatform is the release target of this machine.
func currentPlatform() (platform, error) {
	return platformOf(runtime.GOOS, runtime.GOARCH)
}

// asset is the release archive's file name, e.g. mediamtx_v1.20.1_linux_amd64.tar.gz.
func (p platform) asset(version string) string {
	return fmt.Sprintf("mediamtx_%s_%s_%s.tar.gz", version, p.os, p.arch)
}
