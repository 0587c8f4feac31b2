#!/bin/sh
# Run by shipit in the release directory: right after the switch, or with the traffic switch on
# the idle slot (PORT is the slot's port, SHIPIT_PIDFILE where shipit wants the pid). app.pl stops
# the app its pidfile names, binds its port, starts serving in the background (its own session,
# so it outlives the SSH channel), and returns; an app that cannot bind fails this step instead
# of leaving the smoke test to some other process.
exec setsid perl "$PWD/app.pl" --bind "$SHIPIT_BIND" --port "$PORT" --pidfile "${SHIPIT_PIDFILE:-$SHIPIT_DEPLOY_TO/shared/app.pid}" --log "$SHIPIT_DEPLOY_TO/shared/app.log"
