#!/bin/sh
# v5 starts everywhere but on the hosts listed in FAIL_ON (keyed on SHIPIT_HOST, the name shipit
# knows the host by): a release that breaks on one host of a rollout's second step.
for h in $(cat "$PWD/FAIL_ON" 2>/dev/null); do
  [ "$h" = "$SHIPIT_HOST" ] && { echo "v5 refuses to start on $SHIPIT_HOST (listed in FAIL_ON)" >&2; exit 1; }
done
exec setsid perl "$PWD/app.pl" --bind "$SHIPIT_BIND" --port "$PORT" --pidfile "${SHIPIT_PIDFILE:-$SHIPIT_DEPLOY_TO/shared/app.pid}" --log "$SHIPIT_DEPLOY_TO/shared/app.log"
