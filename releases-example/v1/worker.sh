#!/bin/sh
# releases-example's background worker (the `worker` role in shipit.yml): it takes the files
# dropped into shared/spool/in one at a time and writes each to shared/spool/done with the
# release that processed it.
#   sh worker.sh          runs it in the foreground (shipit keeps it in the background in its own
#                         session, stops it with SIGTERM and waits for the job in flight to finish)
#   sh worker.sh status   its health check (roles.worker.status): exit 0 when the worker shipit
#                         started ($SHIPIT_PID) is this release's and beat in the last 3 seconds
# Files in the release change its behaviour, for the demo and the tests: WORKER_FAIL (it never
# reaches its queue: the status check fails), IGNORE_TERM (it ignores SIGTERM: shipit has to KILL it).
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/VERSION")
spool=${SHIPIT_DEPLOY_TO:-$here/..}/shared/spool
beat=$spool/worker.heartbeat
# The pid shipit keeps for this worker (the process it started: a shell around this one).
leader=$(cat "${SHIPIT_PIDFILE:-/dev/null}" 2>/dev/null || echo $$)
log() { printf '%s %s worker %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$1" "$version" "$2"; }

if [ "${1:-run}" = status ]; then
  [ -f "$beat" ] || { echo "worker $version: no heartbeat yet"; exit 1; }
  read -r bv bpid count < "$beat"
  age=$(( $(date +%s) - $(stat -c %Y "$beat") ))
  [ "$bv" = "$version" ] && [ "$bpid" = "${SHIPIT_PID:-$bpid}" ] || { echo "worker $version: no heartbeat from this worker yet (the last is worker $bv's, pid $bpid)"; exit 1; }
  [ "$age" -le 3 ] || { echo "worker $version: no heartbeat for ${age}s"; exit 1; }
  echo "worker $version ok: pid $bpid, $count job(s) done"
  exit 0
fi

# Sleeps in the background, waited for: a SIGTERM ends the wait at once (the trap runs), and the
# shell reports no killed foreground job.
nap() { sleep "$1" & wait $! 2>/dev/null; }

stop=
if [ -f "$here/IGNORE_TERM" ]; then trap '' TERM; else trap 'stop=1' TERM INT; fi
mkdir -p "$spool/in" "$spool/done"
log INFO "started (pid $$)"
count=0
while [ -z "$stop" ]; do
  if [ -f "$here/WORKER_FAIL" ]; then
    log ERROR "cannot reach the job queue; retrying"
    nap 1
    continue
  fi
  printf '%s %s %s\n' "$version" "$leader" "$count" > "$beat.$$" && mv "$beat.$$" "$beat"
  for job in "$spool"/in/*; do
    [ -f "$job" ] || continue
    name=${job##*/}
    # A job is claimed by moving it: another worker cannot take it twice.
    mv "$job" "$spool/work.$name" 2>/dev/null || continue
    nap "${JOB_SECONDS:-0.2}"
    { cat "$spool/work.$name"; echo "processed by $version"; } > "$spool/done/$name" && rm -f "$spool/work.$name"
    count=$((count + 1))
    log INFO "processed $name"
    [ -z "$stop" ] || break
  done
  nap 0.2
done
log INFO "stopping after $count job(s): none in flight"
