#!/usr/bin/env bash
# Installs what toposync-streaming needs and is missing; skips what is there.
# Usage: scripts/deps.sh [ffmpeg] [chromium] [node] [turbojpeg]
# Go must already be installed (it is on the Go machine image at /usr/local/go).
set -euo pipefail

log() { printf '[deps] %s\n' "$*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    export PATH="$PATH:/usr/local/go/bin"
  else
    log "Go is not installed: install Go 1.26 (https://go.dev/doc/install) and put it on PATH."
    exit 1
  fi
fi

apt_updated=0
apt_install() {
  local as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
    else
      log "missing Debian packages: $*; run as root or install them: apt-get install -y $*"
      exit 1
    fi
  fi
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    "${as_root[@]}" apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

for want in "$@"; do
  case "$want" in
    ffmpeg)
      if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
        log "ffmpeg present: $(command -v ffmpeg)"
      else
        apt_install ffmpeg
      fi
      ;;
    chromium)
      if command -v chromium >/dev/null 2>&1; then
        log "chromium present: $(command -v chromium)"
      else
        apt_install chromium
      fi
      ;;
    node)
      if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        log "node present: $(command -v node) $(node --version)"
      else
        apt_install nodejs npm
      fi
      ;;
    turbojpeg)
      # cgo needs a C compiler; the turbojpeg build tag links libturbojpeg.
      if command -v gcc >/dev/null 2>&1 && [ -f /usr/include/turbojpeg.h ]; then
        log "gcc and libjpeg-turbo headers present"
      else
        apt_install gcc libc6-dev libturbojpeg0-dev
      fi
      ;;
    *)
      log "unknown dependency: $want"
      exit 2
      ;;
  esac
done
