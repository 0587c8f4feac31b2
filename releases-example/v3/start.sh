#!/bin/sh
# Run by shipit in the release directory right after the switch (and on rollback). It stops the
# running app, starts this release in the background, and returns.
set -eu
PIDFILE="$SHIPIT_DEPLOY_TO/shared/app.pid"
if [ -f "$PIDFILE" ]; then
  old=$(cat "$PIDFILE")
  kill "$old" 2>/dev/null || true
  i=0
  while kill -0 "$old" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.02; i=$((i + 1)); done
fi
setsid python3 app.py --bind "$SHIPIT_BIND" --port "$PORT" >>"$SHIPIT_DEPLOY_TO/shared/app.log" 2>&1 </dev/null &
echo $! > "$PIDFILE"
echo "started $(cat VERSION) as pid $(cat "$PIDFILE") on $SHIPIT_BIND:$PORT"
