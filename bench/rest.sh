#!/bin/bash
# rest.sh BINARY [SECONDS]: the demo at rest (issue 14). Starts
# `BINARY serve --demo` on a fresh data dir, lets it settle 15 s with
# nobody watching, then prints the CPU (% of one core) that the service and
# every process below it used over SECONDS (default 30), read from /proc:
# utime+stime of the service, of each live descendant, and of children
# reaped meanwhile (cutime+cstime). Also prints the pipelines' states.
set -euo pipefail
bin=$1; secs=${2:-30}; hz=$(getconf CLK_TCK)
data=$(mktemp -d); port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --demo --listen 127.0.0.1:$port --data-dir "$data" >"$data/out.log" 2>"$data/err.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
ticks() {
	local t p s
	t=$(awk '{print $14+$15+$16+$17}' /proc/$pid/stat)
	for p in $(descendants $pid); do s=$(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0); t=$((t+s)); done
	echo "$t"
}
sleep 15
a=$(ticks); sleep "$secs"; b=$(ticks)
echo "demo at rest over ${secs}s: $(awk -v d=$((b-a)) -v hz=$hz -v s=$secs 'BEGIN{printf "%.2f", d*100/(hz*s)}')% of one core; processes below the service: $(descendants $pid | wc -l)"
for p in demo__motion demo__continuous; do
	echo "$p: $(curl -s http://127.0.0.1:$port/api/pipelines/$p/status | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("state", "-"), "running=%s" % s["running"], s.get("state_detail") or "")')"
done
