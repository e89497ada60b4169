#!/usr/bin/env bash
# scripts/background.sh start NAME COMMAND... | stop NAME — a small pidfile supervisor for make stack.
set -euo pipefail
mkdir -p var/run var/log
action=$1 name=$2; shift 2
pidfile=var/run/$name.pid
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
case "$action" in
  start)
    if running; then echo "$name already running (pid $(cat "$pidfile"))"; exit 0; fi
    nohup "$@" >"var/log/$name.log" 2>&1 &
    echo $! >"$pidfile"
    sleep 1
    running || { echo "ERROR: $name failed to start; see var/log/$name.log" >&2; tail -20 "var/log/$name.log" >&2; exit 1; }
    echo "$name started (pid $(cat "$pidfile"), log var/log/$name.log)" ;;
  stop)
    if running; then kill "$(cat "$pidfile")"; echo "$name stopped"; fi
    rm -f "$pidfile" ;;
esac
