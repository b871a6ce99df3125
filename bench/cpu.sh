#!/bin/bash
# cpu.sh PID SECONDS: CPU % of one core used by PID and its children over the window
pid=$1; secs=$2; hz=$(getconf CLK_TCK)
total() { local t=0; for p in $pid $(pgrep -P $pid); do s=$(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null); t=$((t+${s:-0})); done; echo $t; }
self() { awk '{print $14+$15}' /proc/$pid/stat; }
a=$(total); b=$(self); sleep $secs; c=$(total); d=$(self)
echo "service+children: $(( (c-a)*100/(hz*secs) ))% of one core; service alone: $(( (d-b)*100/(hz*secs) ))%; children: $(pgrep -P $pid | wc -l)"
