#!/usr/bin/env python3
"""shipit vs OpenSSH, side by side in one run, on the local test hosts (deploy user).

Wall time is the median of REPEAT runs; CPU is user+sys of the measured process tree (children's
rusage), also the median. Prints a Markdown table."""
import os, resource, statistics, subprocess, sys, time

REPEAT = int(os.environ.get("REPEAT", "5"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPIT = os.environ.get("SHIPIT", os.path.join(ROOT, ".build/release/shipit"))
BENCH = os.environ.get("SHIPIT_BENCH", os.path.join(ROOT, ".build/release/shipit-bench"))
STATE = os.environ.get("SHIPIT_TESTHOSTS", "/tmp/shipit-testhosts")
USER = os.environ.get("SHIPIT_TEST_USER", "deploy")
KEY = f"{STATE}/keys/id_ed25519"
KNOWN = f"{STATE}/known_hosts"
HOSTS = open(f"{STATE}/hosts.txt").read().split()
SSH_OPTS = ["-i", KEY, "-o", f"UserKnownHostsFile={KNOWN}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none", "-F", "/dev/null"]


def measure(run):
    walls, cpus = [], []
    for _ in range(REPEAT):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def check(procs):
    for p in procs:
        if p.wait() != 0:
            sys.exit(f"bench: a command failed: {p.args}")


def openssh_parallel(hosts):
    check([subprocess.Popen(["ssh", *SSH_OPTS, f"{USER}@{h}", "true"]) for h in hosts])


def shipit_exec(hosts):
    check([subprocess.Popen([SHIPIT, "exec", "--hosts", ",".join(hosts), "--user", USER, "--identity", KEY,
                             "--known-hosts", KNOWN, "--parallel", "64", "--", "true"], stdout=subprocess.DEVNULL)])


def exec_table():
    print("### `true` on N hosts: shipit exec vs OpenSSH `ssh host true` started for all hosts in parallel\n")
    print("| hosts | OpenSSH wall | OpenSSH CPU | shipit wall | shipit CPU | shipit/OpenSSH wall |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (1, 10, 50):
        if n > len(HOSTS):
            print(f"| {n} | (only {len(HOSTS)} hosts up) | | | | |")
            continue
        hosts = HOSTS[:n]
        ow, oc = measure(lambda: openssh_parallel(hosts))
        sw, sc = measure(lambda: shipit_exec(hosts))
        print(f"| {n} | {ow:.3f} s | {oc:.3f} s | {sw:.3f} s | {sc:.3f} s | {sw / ow:.2f}× |")
    print()


def upload_table():
    size_mb = 50
    path = f"/tmp/shipit-bench-{size_mb}mb.bin"
    if not os.path.exists(path) or os.path.getsize(path) != size_mb << 20:
        with open(path, "wb") as f:
            f.write(os.urandom(size_mb << 20))
    host = HOSTS[0]
    print(f"### Upload of {size_mb} MB to one host (loopback)\n")
    print("| tool | wall | MB/s |")
    print("|---|---:|---:|")
    def scp():
        check([subprocess.Popen(["scp", "-q", *SSH_OPTS, path, f"{USER}@{host}:/tmp/openssh-bench.bin"])])
    w, _ = measure(scp)
    print(f"| OpenSSH scp | {w:.3f} s | {size_mb / w:.0f} |")
    for method in ("scp", "sftp"):
        def run():
            out = subprocess.run([BENCH, "upload", host, USER, KEY, KNOWN, path, method], check=True,
                                 capture_output=True, text=True).stdout.split()
            run.inner = float(out[0])
        w, _ = measure(run)
        print(f"| shipit (libssh2 {method}, incl. connect) | {w:.3f} s | {size_mb / w:.0f} |")
    print()


if __name__ == "__main__":
    print(f"hosts available: {len(HOSTS)}, repeats: {REPEAT}, user: {USER}\n")
    exec_table()
    upload_table()
