#!/bin/sh
# Run by shipit in the release directory right after the switch (and on rollback). It stops the
# running app, starts this release in the background, and returns.
set -eu
PIDFILE="$SHIPIT_DEPLOY_TO/shared/app.pid"
if [ -f "$PIDFILE" ]; then
  old=$(cat "$PIDFILE")
  kill "$old" 2>/dev/null || true
  # Wait until it is gone; a zombie (exited, not yet reaped by init) counts as gone.
  alive() { [ -e "/proc/$1" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]; }
  i=0
  while alive "$old" && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
fi
BOUND="$SHIPIT_DEPLOY_TO/shared/app.bound"
rm -f "$BOUND"
setsid perl app.pl --bind "$SHIPIT_BIND" --port "$PORT" --bound-file "$BOUND" >>"$SHIPIT_DEPLOY_TO/shared/app.log" 2>&1 </dev/null &
pid=$!
echo $pid > "$PIDFILE"
# Wait until the app has bound its port. One that dies at start (port taken, a syntax error)
# fails this step, instead of a smoke test answered by some other process passing.
i=0
until [ -f "$BOUND" ]; do
  kill -0 $pid 2>/dev/null || { echo "app exited at start:"; tail -n 5 "$SHIPIT_DEPLOY_TO/shared/app.log"; exit 1; }
  [ $i -lt 500 ] || { echo "app did not bind $SHIPIT_BIND:$PORT within 10s"; exit 1; }
  sleep 0.02; i=$((i + 1))
done
echo "started $(cat VERSION) as pid $(cat "$PIDFILE") on $SHIPIT_BIND:$PORT"
