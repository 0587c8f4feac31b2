#!/usr/bin/env bash
# Test hosts whose PID 1 is systemd: hosts that really boot, for supervision (units that must come
# back after a reboot or a crash), which the loopback sshd hosts (scripts/testhosts.sh, no init)
# cannot show. Each host is a rootful podman container made from Debian packages by this script
# (mmdebstrap, `podman import`), booted with `--systemd=always`, with its own address on the podman
# network and its own stock Debian sshd (PAM on, so pam_systemd gives an SSH session its
# XDG_RUNTIME_DIR and `systemctl --user` works). The user `deploy` lingers: its user manager, and
# so its enabled user units, start at boot without a login. A reboot is `podman stop` and `start`.
#
#   scripts/systemdhosts.sh image            build the host image unless it is cached (once; ~2 min)
#   scripts/systemdhosts.sh up [N]           build the image if needed, start hosts 1..N (default 3)
#                                            that are not running, wait until each one's deploy user
#                                            has a running `systemctl --user` over SSH
#   scripts/systemdhosts.sh up-engine        the engine host (index 9, privileged: rootless podman for
#                                            the deploy user) and a registry on the podman gateway
#                                            with the demo images, for the image strategy's reboots
#   scripts/systemdhosts.sh down             remove the containers this harness started (the image stays)
#   scripts/systemdhosts.sh status           list the hosts, their state and whether sshd accepts
#   scripts/systemdhosts.sh reboot NAME|N    stop and start one host (container name, address or
#                                            index), return once its sshd answers again (a key
#                                            exchange with its recorded host key; nobody logs in)
#   scripts/systemdhosts.sh sysctl NAME|N KEY VALUE
#                                            set a network sysctl in the host's own network namespace
#                                            (its /proc/sys is read-only inside, as a container's is)
#   scripts/systemdhosts.sh env              print the variables tests read
#
# Keys and the user name are testhosts.sh's (run `scripts/testhosts.sh up` first): the harness's
# key logs in as deploy (and root_ed25519 as root), known_hosts gets each host's ed25519 key hashed,
# as `ssh` writes it, so strict host key checking works. Each host offers ed25519, ECDSA and RSA
# host keys, generated here and copied in before the first boot. The addresses are listed, one a
# line, in $SHIPIT_TESTHOSTS/systemd-hosts.txt.
set -euo pipefail
. "$(dirname "$0")/hostlib.sh"
close_inherited_fds

STATE=${SHIPIT_TESTHOSTS:-/tmp/shipit-testhosts}
SD=$STATE/systemd
USER_NAME=${SHIPIT_TEST_USER:-deploy}
NETWORK=${SHIPIT_SD_NETWORK:-podman}
# Not the loopback hosts' deploy uid: rootful podman shares uids with the machine, and
# `testhosts.sh down` ends every process of the machine's deploy user (pkill -u).
DEPLOY_UID=2001
REPO=localhost/shipit-systemd-host
LABEL=shipit.systemd-host
# The suite of the machine running the harness: its mmdebstrap and keyring know it.
SUITE=${SHIPIT_SD_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
# podman for the image strategy's reboot tests: rootless, as the deploy user, on the engine host.
PKGS=systemd,systemd-sysv,openssh-server,dbus,libpam-systemd,dbus-user-session,nginx-light,perl,procps,iproute2,curl,ca-certificates,sudo,podman,uidmap,slirp4netns,crun
# The engine host (index 9): the same image, run privileged so the deploy user's rootless podman
# can make its user namespaces and mounts inside it. The others are not.
ENGINE_HOST=9

die() { echo "systemdhosts: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (rootful podman: systemd as PID 1 needs it)"

# What goes into the image besides the packages (run by mmdebstrap as customize hooks, $1 = the
# root). Part of the image's cache key with the suite and the package list.
HOOKS=(
  # The deploy user, not locked (a '!' password makes sshd refuse it), lingering: its user
  # manager starts at boot (this file is what `loginctl enable-linger` writes).
  "chroot \"\$1\" useradd -m -u $DEPLOY_UID -U -s /bin/bash $USER_NAME && chroot \"\$1\" usermod -p '*' $USER_NAME"
  "mkdir -p \"\$1/var/lib/systemd/linger\" && touch \"\$1/var/lib/systemd/linger/$USER_NAME\""
  # System units through a command prefix (supervisor.sudo): the rule a team would write for
  # its deploy user, systemctl and install only, no password.
  "printf '%s ALL=(root) NOPASSWD: /usr/bin/systemctl, /usr/bin/install\\n' $USER_NAME > \"\$1/etc/sudoers.d/shipit\" && chmod 440 \"\$1/etc/sudoers.d/shipit\""
  # Host keys are each host's own, copied in by `up`: none baked into the image.
  "rm -f \"\$1\"/etc/ssh/ssh_host_*"
  # libssh2 1.10 (Debian 12) signs RSA user auth with SHA-1 only, as on the loopback hosts; the
  # rest is Debian's stock sshd (UsePAM yes: pam_systemd sets up the session's user manager link).
  "printf 'PubkeyAcceptedAlgorithms +ssh-rsa\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nMaxStartups 100\n' > \"\$1/etc/ssh/sshd_config.d/shipit-test.conf\""
  # Rootless podman inside a container on cgroup v1: runc cannot mount the nested hierarchy, crun
  # runs without cgroups. Containers' nofile as on the machine's podman.
  "printf '[containers]\ncgroups = \"disabled\"\ndefault_ulimits = [\"nofile=1024:1024\"]\n[engine]\nruntime = \"crun\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n' > \"\$1/etc/containers/containers.conf\""
  # No unattended apt runs reaching out from a test host.
  "chroot \"\$1\" systemctl mask apt-daily.timer apt-daily-upgrade.timer"
  # An empty machine-id: each container's systemd makes its own at boot.
  "truncate -s 0 \"\$1/etc/machine-id\" && rm -f \"\$1/var/lib/dbus/machine-id\""
)

recipe_hash() {
  { echo "$SUITE"; echo "$PKGS"; echo "$DEPLOY_UID"; printf '%s\n' "${HOOKS[@]}"; } | sha256sum | cut -c1-12
}
IMAGE=$REPO:$(recipe_hash)

build_image() {
  (
    flock 9
    podman image exists "$IMAGE" && exit 0
    command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (scripts/install-deps.sh installs it)"
    local tmp args=() h t0=$SECONDS
    tmp=$(mktemp -d /var/tmp/shipit-sd-image.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    for h in "${HOOKS[@]}"; do args+=(--customize-hook="$h"); done
    echo "systemdhosts: building $IMAGE (Debian $SUITE, mmdebstrap; takes a minute or two)"
    mmdebstrap --quiet --variant=minbase --include="$PKGS" "${args[@]}" "$SUITE" "$tmp/rootfs.tar" \
      >"$tmp/mmdebstrap.log" 2>&1 || { tail -30 "$tmp/mmdebstrap.log" >&2; die "mmdebstrap failed: the image was not built"; }
    podman import --change "LABEL $LABEL.recipe=$(recipe_hash)" --change 'CMD ["/lib/systemd/systemd"]' \
      "$tmp/rootfs.tar" "$IMAGE" >"$tmp/import.log" 2>&1 || { cat "$tmp/import.log" >&2; die "podman import failed"; }
    # Older builds of the recipe, unless a container still uses one.
    for t in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$REPO"); do
      [ "$t" = "$IMAGE" ] || podman rmi "$t" >/dev/null 2>&1 || true
    done
    echo "systemdhosts: built $IMAGE in $((SECONDS - t0)) s"
  ) 9>/run/lock/shipit-systemd-host-image.lock
}

# The containers take fixed addresses (an address given by IPAM changes on a restart), from .101 up
# in the network's first /24, above what IPAM hands out to other containers first.
subnet_base() {
  local subnet
  subnet=$(podman network inspect "$NETWORK" --format '{{range .Subnets}}{{.Subnet}} {{end}}' 2>/dev/null | awk '{print $1}')
  [[ "$subnet" =~ ^([0-9]+\.[0-9]+\.[0-9]+)\.0/(1[6-9]|2[0-4])$ ]] ||
    die "podman network '$NETWORK' has subnet '${subnet:-?}'; need an IPv4 /16../24 (set SHIPIT_SD_NETWORK)"
  echo "${BASH_REMATCH[1]}"
}
addr_of() { echo "$(subnet_base).$((100 + $1))"; }
# A fixed MAC address too, as a real server keeps across a reboot: with a new one at each restart,
# the machine's ARP entry for the address goes stale and the host is unreachable for up to ~30 s.
mac_of() { printf '02:53:48:00:00:%02x\n' "$1"; }
name_of() { echo "shipit-sd-$1"; }

ssh_to() {  # USER ADDR CMD…: as the harness connects: its key, its known_hosts, strict checking
  local user=$1 addr=$2 key=$STATE/keys/id_ed25519
  shift 2
  [ "$user" = root ] && key=$STATE/keys/root_ed25519
  ssh -F /dev/null -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$STATE/known_hosts" -o ConnectTimeout=3 -o LogLevel=ERROR "$user@$addr" "$@"
}

# Until a login as deploy succeeds, at most $2 seconds.
wait_login() {
  local addr=$1 deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    ssh_to "$USER_NAME" "$addr" true </dev/null 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# Until sshd completes a key exchange with the host key recorded for the address, at most $2
# seconds. No login: a login as deploy would start its user manager, lingering or not, and a
# test could not tell a unit that comes back by itself from one a login started.
wait_sshd() {
  local addr=$1 deadline=$((SECONDS + $2)) want
  want=$(cut -d' ' -f2 "$SD/$addr/ssh_host_ed25519_key.pub")
  while [ $SECONDS -lt $deadline ]; do
    ssh-keyscan -T 2 -t ed25519 "$addr" 2>/dev/null | grep -qF "$want" && return 0
    sleep 0.2
  done
  return 1
}

running() { [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

create_host() {
  local i=$1 name addr dir t stage keys
  name=$(name_of "$i"); addr=$(addr_of "$i"); dir=$SD/$addr
  mkdir -p "$dir"
  host_keys "$dir/ssh_host" >/dev/null
  known_host "$addr" "$dir/ssh_host_ed25519_key.pub"
  # The keys it is made with (host keys, authorized keys): a container kept from a run whose
  # harness state is gone has other keys than the known_hosts and client keys of this one, and
  # would refuse every login.
  keys=$(cat "$dir"/ssh_host_*_key.pub "$STATE/authorized_keys/$USER_NAME" "$STATE/authorized_keys/root" 2>/dev/null | sha256sum | cut -c1-16)
  if podman container exists "$name"; then
    # A host made from an older recipe or with other keys is made again (its state goes with
    # it, as a rebuilt server's).
    [ "$(podman inspect -f '{{.ImageName}}' "$name")" = "$IMAGE" ] &&
      [ "$(podman inspect -f "{{index .Config.Labels \"$LABEL.keys\"}}" "$name")" = "$keys" ] && return 0
    podman rm -f -t 0 "$name" >/dev/null 2>&1
  fi
  local priv=()
  [ "$i" != "$ENGINE_HOST" ] || priv=(--privileged)
  podman create --name "$name" --hostname "sd-$i" --label "$LABEL=$STATE" --label "$LABEL.keys=$keys" "${priv[@]}" \
    --systemd=always --ulimit nproc=4096:4096 --ulimit nofile=4096:4096 \
    --network "$NETWORK" --ip "$addr" --mac-address "$(mac_of "$i")" "$IMAGE" /lib/systemd/systemd >/dev/null
  # Before the first boot, so that sshd starts with them. Tar streams keep the owners
  # (--archive=false: podman would make everything root's); only files are named, so the
  # directories they land in keep their own modes.
  stage=$(mktemp -d)
  for t in ed25519 ecdsa rsa; do
    install -m 600 "$dir/ssh_host_${t}_key" "$stage/ssh_host_${t}_key"
    install -m 644 "$dir/ssh_host_${t}_key.pub" "$stage/ssh_host_${t}_key.pub"
  done
  (cd "$stage" && tar --owner=0 --group=0 --numeric-owner -cf - ssh_host_*) | podman cp --archive=false - "$name:/etc/ssh"
  rm -rf "$stage"; stage=$(mktemp -d)
  mkdir -m 700 "$stage/.ssh"
  install -m 600 "$STATE/authorized_keys/$USER_NAME" "$stage/.ssh/authorized_keys"
  tar -C "$stage" --owner="$DEPLOY_UID" --group="$DEPLOY_UID" --numeric-owner -cf - .ssh | podman cp --archive=false - "$name:/home/$USER_NAME"
  if [ -f "$STATE/authorized_keys/root" ]; then
    install -m 600 "$STATE/authorized_keys/root" "$stage/.ssh/authorized_keys"
    tar -C "$stage" --owner=0 --group=0 --numeric-owner -cf - .ssh | podman cp --archive=false - "$name:/root"
  fi
  rm -rf "$stage"
}

# Made if needed, and started. A kept container that does not start (left in a transitional
# state by a machine that stopped mid-run) is made again once.
start_host() {
  local name
  name=$(name_of "$1")
  create_host "$1"
  running "$name" || podman start "$name" >/dev/null 2>&1 && return 0
  podman rm -f -t 0 "$name" >/dev/null 2>&1
  create_host "$1"
  podman start "$name" >/dev/null || die "$name does not start (podman logs $name)"
}

# Ready: sshd accepts the deploy user, whose session has a user manager that has finished starting.
wait_ready() {
  local i=$1 addr out
  addr=$(addr_of "$i")
  wait_login "$addr" 90 || die "$(name_of "$i") ($addr): sshd does not accept a login after 90 s (podman logs $(name_of "$i"))"
  out=$(ssh_to "$USER_NAME" "$addr" 'timeout 60 systemctl --user is-system-running --wait' </dev/null 2>&1) ||
    die "$(name_of "$i") ($addr): systemctl --user is '$out' for $USER_NAME (see: systemctl --user --failed)"
}

hosts_file() { echo "$STATE/systemd-hosts.txt"; }
our_containers() { podman ps -a --filter "label=$LABEL=$STATE" --format '{{.Names}}' | sort -V; }

resolve() {  # NAME | ADDRESS | INDEX → container name
  local c
  if [[ "$1" =~ ^[0-9]+$ ]]; then name_of "$1"; return; fi
  for c in $(our_containers); do
    if [ "$c" = "$1" ] || [ "$(addr_of "${c##*-}")" = "$1" ] || [ "$(podman inspect -f '{{.Config.Hostname}}' "$c")" = "$1" ] ||
      [ "$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c")" = "$1" ]; then
      echo "$c"; return
    fi
  done
  die "no systemd host '$1' (status lists them)"
}

cmd=${1:-status}
case "$cmd" in
  image) build_image ;;
  up)
    n=${2:-3}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 50 ] || die "N must be 1..50"
    [ -f "$STATE/keys/id_ed25519" ] && [ -f "$STATE/authorized_keys/$USER_NAME" ] ||
      die "run scripts/testhosts.sh up first (keys, known_hosts)"
    build_image
    mkdir -p "$SD"
    t0=$SECONDS
    for i in $(seq 1 "$n"); do
      start_host "$i"
    done
    for i in $(seq 1 "$n"); do wait_ready "$i" & done
    for i in $(seq 1 "$n"); do wait -n || die "a host did not get ready"; done
    seq 1 "$n" | while read -r i; do addr_of "$i"; done > "$(hosts_file)"
    echo "systemdhosts: $n host(s) up in $((SECONDS - t0)) s ($(paste -sd' ' "$(hosts_file)")), PID 1 systemd, user $USER_NAME lingering"
    ;;
  up-engine)
    # The engine host, and a registry it can reach: on the podman network's gateway, with the
    # demo images of the local registry (scripts/images.sh) pushed to it.
    [ -f "$STATE/keys/id_ed25519" ] || die "run scripts/testhosts.sh up first (keys, known_hosts)"
    build_image
    mkdir -p "$SD"
    start_host "$ENGINE_HOST"
    wait_ready "$ENGINE_HOST"
    gw="$(subnet_base).1"
    SHIPIT_REGISTRY_DIR=$SD/registry SHIPIT_REGISTRY_ADDR=$gw:5056 "$(dirname "$0")/registry.sh" up >/dev/null
    for v in v1 v2 v3; do
      podman push --quiet --tls-verify=false "${SHIPIT_REGISTRY_ADDR:-127.0.0.1:5055}/demo:$v" "docker://$gw:5056/demo:$v" ||
        die "cannot push demo:$v to $gw:5056 (run scripts/images.sh first)"
    done
    addr_of "$ENGINE_HOST" > "$SD/engine-host.txt"
    echo "$gw:5056" > "$SD/engine-registry.txt"
    echo "systemdhosts: engine host $(addr_of "$ENGINE_HOST") up (rootless podman for $USER_NAME), registry $gw:5056"
    ;;
  down)
    SHIPIT_REGISTRY_DIR=$SD/registry "$(dirname "$0")/registry.sh" down >/dev/null 2>&1 || true
    rm -f "$SD/engine-host.txt" "$SD/engine-registry.txt"
    # Thrown away, so no clean shutdown to wait for.
    for c in $(our_containers); do podman rm -f -t 0 "$c" >/dev/null 2>&1 || die "could not remove $c"; done
    rm -f "$(hosts_file)"
    echo "systemdhosts: all hosts removed (image $IMAGE kept)"
    ;;
  reboot)
    [ -n "${2:-}" ] || die "usage: reboot NAME|ADDRESS|INDEX"
    c=$(resolve "$2")
    podman container exists "$c" || die "no container $c"
    addr=$(addr_of "${c##*-}")
    t0=$(date +%s.%N)
    # systemd stops every unit within a second, then waits for a cgroup-empty event that cgroup v1
    # never delivers inside a container: podman SIGKILLs it after the timeout (its warning is noise).
    # On a loaded machine podman may give up waiting for the killed processes ("given PIDs did not
    # die") with the container still stopping: stop it again until it is down, then start it, as
    # a server's power cycle always ends with the machine up.
    podman stop -t "${SHIPIT_SD_STOP_TIMEOUT:-10}" "$c" >/dev/null 2>&1 || true
    stopped_by=$((SECONDS + 120))
    while running "$c"; do
      [ $SECONDS -lt $stopped_by ] || die "$c does not stop (state $(podman inspect -f '{{.State.Status}}' "$c"))"
      podman stop -t 0 "$c" >/dev/null 2>&1 || sleep 1
    done
    started=""
    for _ in 1 2 3 4 5; do
      if out=$(podman start "$c" 2>&1) && running "$c"; then started=yes; break; fi
      sleep 2
    done
    [ -n "$started" ] || die "podman start $c: $out"
    t1=$(date +%s.%N)
    wait_sshd "$addr" 60 || die "$c ($addr): sshd does not answer 60 s after the restart"
    t2=$(date +%s.%N)
    awk -v c="$c" -v a="$addr" -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
      printf "systemdhosts: rebooted %s (%s): stop and start took %.1f s, sshd answered %.1f s later\n", c, a, t1 - t0, t2 - t1 }'
    ;;
  sysctl)
    [ -n "${4:-}" ] || die "usage: sysctl NAME|ADDRESS|INDEX net.KEY VALUE"
    case "$3" in net.*) ;; *) die "sysctl: only net.* keys are the host's own" ;; esac
    c=$(resolve "$2")
    pid=$(podman inspect -f '{{.State.Pid}}' "$c") || die "no container $c"
    f=/proc/sys/$(printf '%s' "$3" | tr . /)
    nsenter -t "$pid" -n sh -c 'printf "%s\n" "$1" > "$2"' sysctl "$4" "$f" || die "$c: cannot set $3"
    ;;
  status)
    for c in $(our_containers); do
      addr=$(podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$c")
      state=$(podman inspect -f '{{.State.Status}}' "$c")
      ssh_state=down; [ "$state" = running ] && ssh_to "$USER_NAME" "$addr" true </dev/null 2>/dev/null && ssh_state=accepts
      echo "$c ${addr:-$(addr_of "${c##*-}")} $state sshd:$ssh_state"
    done
    ;;
  env)
    echo "export SHIPIT_TESTHOSTS=$STATE"
    echo "export SHIPIT_SYSTEMD_HOSTS=$(paste -sd, "$(hosts_file)" 2>/dev/null)"
    ;;
  *) die "unknown command '$cmd' (image|up|up-engine|down|status|reboot|env)" ;;
esac
