#!/usr/bin/env python3
"""shipit vs OpenSSH and Capistrano, side by side in one run, on the local test hosts (deploy user).

Wall time is the median of REPEAT runs; CPU is user+sys of the measured process tree (children's
rusage), also the median. Prints a Markdown table."""
import itertools, os, resource, shutil, statistics, subprocess, sys, time

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


def measure(run, setup=None):
    """Median wall and CPU of REPEAT runs; `setup` (unmeasured) runs before each one, e.g. the
    deploy a rollback undoes."""
    walls, cpus = [], []
    for _ in range(REPEAT):
        if setup:
            setup()
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
    for method in ("scp", "sftp", "stream"):
        def run():
            out = subprocess.run([BENCH, "upload", host, USER, KEY, KNOWN, path, method], check=True,
                                 capture_output=True, text=True).stdout.split()
            run.inner = float(out[0])
        w, _ = measure(run)
        print(f"| shipit (libssh2 {method}, incl. connect) | {w:.3f} s | {size_mb / w:.0f} |")
    print()


def write_config(path, app, hosts, deploy_to, port, deadline=5):
    with open(path, "w") as f:
        f.write(f"""app: {app}
hosts: [{", ".join(hosts)}]
ssh: {{user: {USER}, identity: {KEY}, known_hosts: {KNOWN}}}
deploy_to: {deploy_to}
keep_releases: 3
start: sh start.sh
health: {{port: {port}, address: reached, deadline: {deadline}, interval: 0.05}}
hooks: /nonexistent
parallel: {max(64, len(hosts))}
""")


def alternating_argv(config):
    """A function giving the command that deploys releases-example v1, then v2, then v1… with `config`."""
    versions = itertools.cycle(["v1", "v2"])
    return lambda: [SHIPIT, "deploy", "--config", config, "--from", os.path.join(ROOT, "releases-example", next(versions))]


def alternating_deploy(config, argv=None):
    """A function that runs those deploys (from `argv`, an `alternating_argv`, to share its turn)."""
    argv = argv or alternating_argv(config)
    return lambda: subprocess.run(argv(), check=True, stdout=subprocess.DEVNULL)


CAP_DIR = os.path.join(ROOT, "bench", "capistrano")
CAP_WORK = "/tmp/shipit-bench-cap"


def cap_repo():
    """releases-example v1 and v2 as branches of a bare git repo the deploy user can read
    (Capistrano clones from git on every host; shipit uploads the directory)."""
    import pwd
    if os.path.isdir(f"{CAP_WORK}/repo.git"):
        return f"file://{CAP_WORK}/repo.git"
    src = f"{CAP_WORK}/src"
    os.makedirs(src, exist_ok=True)
    git = ["git", "-C", src, "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(git[:3] + ["init", "-q", "-b", "main"], check=True)
    for v in ("v1", "v2"):
        for entry in os.listdir(src):
            if entry != ".git":
                path = os.path.join(src, entry)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        subprocess.run(["cp", "-a", os.path.join(ROOT, "releases-example", v) + "/.", src], check=True)
        subprocess.run(git + ["add", "-A"], check=True)
        subprocess.run(git + ["commit", "-qm", v], check=True)
        subprocess.run(git + ["branch", "-f", v], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", src, f"{CAP_WORK}/repo.git"], check=True)
    u = pwd.getpwnam(USER)
    for d, _, files in os.walk(f"{CAP_WORK}/repo.git"):
        os.chown(d, u.pw_uid, u.pw_gid)
        for f in files:
            os.chown(os.path.join(d, f), u.pw_uid, u.pw_gid)
    os.chmod(CAP_WORK, 0o755)
    return f"file://{CAP_WORK}/repo.git"


def cap(task, hosts, deploy_to, branch="v1"):
    env = dict(os.environ, CAP_REPO=cap_repo(), CAP_BRANCH=branch, CAP_DEPLOY_TO=deploy_to, CAP_KEY=KEY,
               CAP_KNOWN_HOSTS=KNOWN, CAP_HOSTS=",".join(hosts), CAP_USER=USER)
    r = subprocess.run(["cap", "bench", task], cwd=CAP_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: cap {task} failed: {r.stderr[-2000:]}")


def remote_cpu_seconds(hosts):
    """CPU the hosts' side has spent on finished SSH connections: the children's user+sys time
    (cutime + cstime) of each host's listening sshd, which reaps every connection's sshd and,
    through it, the shells and tools that connection ran. Daemons the deploy starts (the app)
    leave their parent and are not counted: this is what the deploy itself costs a host."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for h in hosts:
        pid = open(f"{STATE}/hosts/{h}/sshd.pid").read().split()[0]
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        total += int(fields[13]) + int(fields[14])  # cutime, cstime (fields 16 and 17)
    return total / tick


def remote_cpu_table():
    """Per host per deploy: the CPU a deploy costs the host (sshd, shells, the tools they fork),
    shipit beside Capistrano, the same app on the same hosts in the same run (median of REPEAT)."""
    n = min(10, len(HOSTS))
    hosts = HOSTS[:n]
    work = "/tmp/shipit-bench-deploy"
    os.makedirs(work, exist_ok=True)
    config = f"{work}/shipit-cpu.yml"
    write_config(config, "benchcpu", hosts, "/srv/bench-cpu", 18500)
    shipit_deploy = alternating_deploy(config)
    branches = iter(["v1", "v2"] * (REPEAT + 4))
    def cap_deploy():
        cap("deploy", hosts, "/srv/bench-cap-cpu", next(branches))
    def per_host(run):
        run(); run()  # warm: two releases (Capistrano: its repo mirror) on every host
        samples = []
        for _ in range(REPEAT):
            before = remote_cpu_seconds(hosts)
            run()
            time.sleep(0.3)  # the last sessions are reaped
            samples.append((remote_cpu_seconds(hosts) - before) / n)
        return statistics.median(samples)
    shipit_cpu = per_host(shipit_deploy)
    print(f"### What a deploy costs each host: remote CPU per host per deploy ({n} hosts, median of {REPEAT})\n")
    print("The children's CPU of each host's listening sshd (sshd sessions, shells, tar, the tools a deploy")
    print("forks), before and after one deploy, divided by the hosts. The app itself is not counted.\n")
    print("| tool | remote CPU per host per deploy |")
    print("|---|---:|")
    if shutil.which("cap"):
        cap_cpu = per_host(cap_deploy)
        print(f"| Capistrano (git clone/fetch, symlinks, no app start) | {cap_cpu * 1000:.0f} ms |")
    print(f"| shipit (pre-flight, stream + extract, switch + start, smoke test, finish) | {shipit_cpu * 1000:.0f} ms |")
    print()


def peak_rss_kib(argv):
    os.makedirs(CAP_WORK, exist_ok=True)
    out = f"{CAP_WORK}/rss"
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + argv, check=True, stdout=subprocess.DEVNULL)
    return int(open(out).read().split()[-1])


def deploy_table():
    """`shipit deploy` (the whole state machine: pre-flight, upload, switch, start, smoke test,
    finish) and `shipit rollback`, next to OpenSSH's bare `ssh host true` and, when `cap` is
    installed, Capistrano deploying the same app to the same hosts in the same run. Capistrano's
    deploy does not start or smoke-test the app. Each rollback undoes a deploy made just before it
    (not measured)."""
    work = "/tmp/shipit-bench-deploy"
    os.makedirs(work, exist_ok=True)
    with_cap = shutil.which("cap") is not None
    if with_cap:
        cap_version = subprocess.run(["cap", "--version"], capture_output=True, text=True).stdout.strip().splitlines()[0]
        print(f"### shipit vs OpenSSH and Capistrano ({cap_version}): deploy and rollback, wall (client CPU)\n")
    else:
        print("### shipit vs OpenSSH: deploy and rollback, wall (client CPU) — Capistrano columns empty: "
              "`cap` is not installed (scripts/install-deps.sh --bench installs it)\n")
    print("| hosts | OpenSSH `true` | Capistrano deploy | shipit deploy | shipit / OpenSSH | shipit / Capistrano "
          "| Capistrano rollback | shipit rollback | shipit auto-rollback | shipit peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in (1, 10, 50, 200):
        if n > len(HOSTS):
            print(f"| {n} | (only {len(HOSTS)} hosts up: BENCH_HOSTS={n} make bench) | | | | | | | | |")
            continue
        hosts = HOSTS[:n]
        cap_cells = ["", "", ""]
        if with_cap:
            cap_to = f"/srv/bench-cap-{n}"
            branches = iter(["v1", "v2"] * (4 * REPEAT + 4))
            cap_deploy = lambda: cap("deploy", hosts, cap_to, next(branches))
            cap_deploy(); cap_deploy()  # warm: the repo mirror exists on every host
            cdw, cdc = measure(cap_deploy)
            crw, crc = measure(lambda: cap("deploy:rollback", hosts, cap_to), setup=cap_deploy)
            cap_cells = [f"{cdw:.2f} s ({cdc:.2f} s)", None, f"{crw:.2f} s ({crc:.2f} s)"]

        config = f"{work}/shipit-{n}.yml"
        write_config(config, f"bench{n}", hosts, f"/srv/bench-deploy-{n}", 18100 + n)
        argv = alternating_argv(config)
        deploy = alternating_deploy(config, argv)
        deploy(); deploy()  # warm: two releases on every host
        sdw, sdc = measure(deploy)
        srw, src = measure(lambda: subprocess.run([SHIPIT, "rollback", "--config", config], check=True, stdout=subprocess.DEVNULL), setup=deploy)
        # v3 is never ready: every host switches, fails its smoke test (after the 1 s health
        # deadline of this config) and goes back; exit 4.
        fail_config = f"{work}/shipit-{n}-fail.yml"
        write_config(fail_config, f"bench{n}", hosts, f"/srv/bench-deploy-{n}", 18100 + n, deadline=1)
        def auto_rollback():
            r = subprocess.run([SHIPIT, "deploy", "--config", fail_config, "--from", os.path.join(ROOT, "releases-example", "v3")],
                               stdout=subprocess.DEVNULL)
            if r.returncode != 4:
                sys.exit(f"bench: the v3 deploy exited {r.returncode}, not 4 (rolled back)")
        saw, sac = measure(auto_rollback)
        rss = peak_rss_kib(argv())
        ow, _ = measure(lambda: openssh_parallel(hosts))
        if with_cap:
            cap_cells[1] = f"{sdw / cdw:.2f}×"
        print(f"| {n} | {ow:.2f} s | {cap_cells[0]} | {sdw:.2f} s ({sdc:.2f} s) | {sdw / ow:.2f}× | {cap_cells[1]} "
              f"| {cap_cells[2]} | {srw:.2f} s ({src:.2f} s) | {saw:.2f} s ({sac:.2f} s) | {rss / 1024:.1f} MiB |")
    print()


ENGINE = "podman --root /srv/podman/root --runroot /srv/podman/run --tmpdir /srv/podman/tmp --cgroup-manager cgroupfs --events-backend file"
REGISTRY = os.environ.get("SHIPIT_REGISTRY_ADDR", "127.0.0.1:5055")


def step_split(ndjson):
    """Slowest host per step, from `deploy --json` events."""
    import json
    worst = {}
    for line in ndjson.splitlines():
        e = json.loads(line)
        if e.get("host") and e.get("seconds") is not None and e.get("status") == "ok":
            worst[e["step"]] = max(worst.get(e["step"], 0), e["seconds"])
    return worst


def image_table():
    """strategy: image with rootless podman on every host, images from the local registry."""
    n = min(10, len(HOSTS))
    hosts = HOSTS[:n]
    work = "/tmp/shipit-bench-image"
    os.makedirs(work, exist_ok=True)
    config = f"{work}/shipit.yml"
    with open(config, "w") as f:
        f.write(f"""app: bench-image
hosts: [{", ".join(hosts)}]
ssh: {{user: {USER}, identity: {KEY}, known_hosts: {KNOWN}}}
strategy: image
deploy_to: /srv/bench-image
image:
  name: {REGISTRY}/demo
  engine: {ENGINE}
  container_port: 8080
  port: 18200
  tls_verify: false
  stop_timeout: 2
health: {{port: 18200, address: reached, deadline: 10, interval: 0.05}}
hooks: /nonexistent
parallel: 64
""")
    # Cold hosts: no containers, no images (so the first deploys really pull).
    subprocess.run([SHIPIT, "exec", "--hosts", ",".join(hosts), "--user", USER, "--identity", KEY, "--known-hosts", KNOWN,
                    "--", f"{ENGINE} rm -af >/dev/null 2>&1; {ENGINE} rmi -af >/dev/null 2>&1; rm -rf /srv/bench-image; true"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"### Image strategy on {n} hosts (rootless podman, busybox httpd image, local registry)\n")
    print("| deploy | wall | pre-flight + pull | create | switch (stop old, start new) | smoke test | finish |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for tag, label in (("v1", "v1, cold (image pulled)"), ("v2", "v2, cold (image pulled)"), ("v1", "v1 again (image present)")):
        t0 = time.perf_counter()
        out = subprocess.run([SHIPIT, "deploy", "--config", config, "--tag", tag, "--json"], check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - t0
        w = step_split(out)
        print(f"| {label} | {wall:.2f} s | {w.get('preflight', 0):.2f} s | {w.get('create', 0):.2f} s | {w.get('switch', 0):.2f} s | "
              f"{w.get('smoke test', 0):.2f} s | {w.get('finish', 0):.2f} s |")
    print()
    import json
    rels = json.loads(subprocess.run([SHIPIT, "releases", "--config", config, "--json"], check=True,
                                     capture_output=True, text=True).stdout)["hosts"][0]["releases"]
    targets = iter([rels[0], rels[1]] * (REPEAT + 1))
    rw, rc = measure(lambda: subprocess.run([SHIPIT, "rollback", "--config", config, "--to", next(targets)], check=True, stdout=subprocess.DEVNULL))
    print(f"Rollback of {n} hosts to an image they already hold (no pull): **{rw:.2f} s** wall, {rc:.2f} s CPU (median of {REPEAT}).\n")


PG_FILL = """
INSERT INTO bench.configs SELECT 'cfg' || c, '{"app":"bench","health.deadline":"' || (c % 7 + 1) || '"}' FROM generate_series(0, 2000) c ON CONFLICT DO NOTHING;
INSERT INTO bench.attempts (id, app, strategy, operation, release_id, source, "user", machine, pid, started_at, finished_at, outcome, state, error, changed_count, changed_files, config_hash)
SELECT 'bench-' || lpad(i::text, 8, '0'), 'bench', 'symlink', CASE WHEN i % 10 = 9 THEN 'rollback' ELSE 'deploy' END, 'r' || lpad(i::text, 8, '0'),
       '/src/app', 'ops', 'bench', 1, t, t + 1.5, CASE WHEN i % 20 = 19 THEN 'rolled-back' ELSE 'succeeded' END,
       CASE WHEN i % 20 = 19 THEN 'rolledBack' ELSE 'succeeded' END, CASE WHEN i % 20 = 19 THEN '127.0.0.12 failed at smoke test' END,
       3, '["M app.py","M VERSION","A static/new.css"]', 'cfg' || (i / 50)
FROM (SELECT i, extract(epoch FROM now()) - 365.0 * 86400 + 365.0 * 86400 * i / N.n AS t FROM generate_series(0, (SELECT n FROM N) - 1) i, N) g, N;
INSERT INTO bench.attempt_hosts (attempt_id, host, previous, current, step, status)
SELECT 'bench-' || lpad(i::text, 8, '0'), '127.0.0.' || (11 + h), 'r' || lpad((i - 1)::text, 8, '0'), 'r' || lpad(i::text, 8, '0'), 'finish', 'ok'
FROM generate_series(0, (SELECT n FROM N) - 1) i, generate_series(0, 2) h;
INSERT INTO bench.steps (attempt_id, host, step, status, started_at, finished_at, exit_status)
SELECT 'bench-' || lpad(i::text, 8, '0'), '127.0.0.' || (11 + h), s, 'ok', 0, 0, 0
FROM generate_series(0, (SELECT n FROM N) - 1) i, generate_series(0, 2) h, unnest(ARRAY['preflight', 'upload', 'switch']) s;
INSERT INTO bench.steps (attempt_id, host, step, status, started_at, finished_at, message)
SELECT 'bench-' || lpad(i::text, 8, '0'), NULL, 'state', 'info', 0, 0, 'smokeTest → succeeded' FROM generate_series(0, (SELECT n FROM N) - 1) i;
ANALYZE;
"""


def pg_table():
    """`changes --since 30d` over a 100,000-attempt shared ledger on PostgreSQL (target: under 100 ms)."""
    work = "/tmp/shipit-bench-pg"
    os.makedirs(work, exist_ok=True)
    pwfile = os.environ.get("SHIPIT_PG_DIR", "/tmp/shipit-pg") + "/pw"
    port = os.environ.get("SHIPIT_PG_PORT", "15432")
    config = f"{work}/shipit.yml"
    write_config(config, "bench", HOSTS[:3], "/srv/bench-pg", 18400)
    with open(config, "a") as f:
        f.write(f"ledger:\n  url: postgres://shipit@127.0.0.1:{port}/shipit?schema=bench\n  password_file: {pwfile}\n")
    env = dict(os.environ, PGPASSWORD=open(pwfile).read().strip())
    psql = ["psql", "-h", "127.0.0.1", "-p", port, "-U", "shipit", "-d", "shipit", "-qtA", "-v", "ON_ERROR_STOP=1"]
    attempts = int(os.environ.get("LEDGER_ATTEMPTS", "100000"))
    have = subprocess.run(psql + ["-c", "SELECT count(*) FROM bench.attempts"], env=env, capture_output=True, text=True).stdout.strip()
    if have != str(attempts):
        subprocess.run(psql + ["-c", "DROP SCHEMA IF EXISTS bench CASCADE"], env=env, check=True)
        subprocess.run([SHIPIT, "changes", "--config", config, "--no-hosts"], check=True, stdout=subprocess.DEVNULL)  # shipit creates its schema
        t0 = time.perf_counter()
        sql = f"CREATE TEMP TABLE N AS SELECT {attempts} AS n;\n" + PG_FILL
        subprocess.run(psql, input=sql, env=env, check=True, text=True)
        print(f"(PostgreSQL ledger filled in {time.perf_counter() - t0:.1f} s)\n")
    steps = subprocess.run(psql + ["-c", "SELECT count(*) FROM bench.steps"], env=env, capture_output=True, text=True).stdout.strip()
    print(f"### `shipit changes --since 30d` on the shared PostgreSQL ledger: {attempts:,} attempts, {steps} step rows\n")
    print("| what | median |")
    print("|---|---:|")
    query_rows(config, "connect + query + timeline")
    w, c = measure(lambda: subprocess.run([SHIPIT, "changes", "--config", config, "--since", "30d", "--no-hosts"], check=True, stdout=subprocess.DEVNULL))
    print(f"| whole command, ledger only | {w * 1000:.0f} ms (CPU {c * 1000:.0f} ms) |")
    print()


def query_rows(config, what):
    """Table rows: the ledger query behind `changes --since 30d` (shipit-bench ledger-query), median ms,
    for the default newest 200 and for --limit 0."""
    for limit, label in ((200, "default: newest 200"), (0, "--limit 0: all")):
        qs = []
        for _ in range(REPEAT):
            out = subprocess.run([BENCH, "ledger-query", config, "30", str(limit)], check=True, capture_output=True, text=True).stdout.split()
            qs.append(float(out[0]))
        print(f"| {what} ({label}) | {statistics.median(qs):.1f} ms |")


def triage_table():
    """`shipit triage` on 10 healthy hosts (target: under 2 s for the whole command)."""
    n = min(10, len(HOSTS))
    work = "/tmp/shipit-bench-triage"
    os.makedirs(work, exist_ok=True)
    config = f"{work}/shipit.yml"
    write_config(config, "bench-triage", HOSTS[:n], "/srv/bench-triage", 18300)
    with open(config, "a") as f:
        f.write("triage:\n  load_max_per_cpu: 1000\n  checks:\n    - {name: tmp-writable, command: 'test -w /tmp'}\n")
    for v in ("v1", "v2"):
        subprocess.run([SHIPIT, "deploy", "--config", config, "--from", os.path.join(ROOT, "releases-example", v)], check=True, stdout=subprocess.DEVNULL)
    w, c = measure(lambda: subprocess.run([SHIPIT, "triage", "--config", config, "--since", "2h"], check=True, stdout=subprocess.DEVNULL))
    print(f"### `shipit triage` on {n} healthy hosts\n")
    print(f"Whole command (probe script + live/ready per host, ledger and host history, rollback advice, note): "
          f"**{w:.2f} s** wall, {c:.2f} s CPU (median of {REPEAT}).\n")


def traffic_table():
    """The traffic switch (docs/traffic.md): requests lost under load through deploy, failed deploy
    and rollback (both strategies, 3 hosts), and `shipit rollback` of 10 hosts to the warm standby."""
    import json
    n = min(3, len(HOSTS))
    work = "/tmp/shipit-bench-traffic"
    os.makedirs(work, exist_ok=True)
    print(f"### Traffic switch: requests lost during deploy v2, failed v3 and rollback ({n} hosts, 3 clients per host, a new connection per request)\n")
    print("| strategy | requests | failed | answered by v3 | by version |")
    print("|---|---:|---:|---:|---|")
    runs = {}
    sym = f"{work}/symlink.yml"
    write_config(sym, "bench-traffic", HOSTS[:n], "/srv/bench-traffic", 18400)
    with open(sym, "a") as f:
        f.write("traffic: {proxy: nginx, drain: 1}\n")
    runs["symlink"] = (sym, 18400, [["--from", os.path.join(ROOT, "releases-example", v)] for v in ("v1", "v2", "v3")])
    img = f"{work}/image.yml"
    with open(os.path.join(ROOT, "releases-example", "image", "shipit.yml")) as src, open(img, "w") as f:
        text = src.read().replace("app: demo-image", "app: bench-traffic-img").replace("deploy_to: /srv/demo-image", "deploy_to: /srv/bench-traffic-img")
        text = text.replace("port: 8090", "port: 18500").replace("hooks: ../../hooks", "hooks: /nonexistent")
        hosts_yaml = "hosts: [" + ", ".join(HOSTS[:n]) + "]"
        text = "\n".join(hosts_yaml if l.startswith("hosts:") else l for l in text.split("\n") if not l.startswith("  - 127."))
        f.write(text + "\ntraffic: {proxy: nginx, drain: 1}\n")
    runs["image"] = (img, 18500, [["--tag", v] for v in ("v1", "v2", "v3")])
    for name, (config, port, args) in runs.items():
        subprocess.run([SHIPIT, "deploy", "--config", config] + args[0], check=True, stdout=subprocess.DEVNULL)
        stop = f"{work}/stop-{name}"
        if os.path.exists(stop):
            os.remove(stop)
        load = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "load.py"), "--targets", ",".join(f"{h}:{port}" for h in HOSTS[:n]),
                                 "--threads", "3", "--seconds", "120", "--stop-file", stop, "--bad", "v3"], stdout=subprocess.PIPE)
        subprocess.run([SHIPIT, "deploy", "--config", config] + args[1], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([SHIPIT, "deploy", "--config", config] + args[2], stdout=subprocess.DEVNULL)
        subprocess.run([SHIPIT, "rollback", "--config", config], check=True, stdout=subprocess.DEVNULL)
        open(stop, "w").close()
        r = json.loads(load.communicate()[0])
        print(f"| {name} | {r['requests']} | {r['failed']} | {r['bad']} | {r['versions']} |")
    print()
    n = min(10, len(HOSTS))
    config = f"{work}/rollback.yml"
    write_config(config, "bench-traffic-rb", HOSTS[:n], "/srv/bench-traffic-rb", 18600)
    with open(config, "a") as f:
        f.write("traffic: {proxy: nginx, drain: 1}\n")
    for v in ("v1", "v2"):
        subprocess.run([SHIPIT, "deploy", "--config", config, "--from", os.path.join(ROOT, "releases-example", v)], check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([SHIPIT, "releases", "--config", config, "--json"], check=True, capture_output=True, text=True).stdout
    ids = sorted(json.loads(out)["hosts"][0]["releases"])[-2:]
    flip = iter(ids * REPEAT)
    w, c = measure(lambda: subprocess.run([SHIPIT, "rollback", "--config", config, "--to", next(flip)], check=True, stdout=subprocess.DEVNULL))
    ew, _ = measure(lambda: shipit_exec(HOSTS[:n]))
    print(f"### `shipit rollback` of {n} hosts to the warm standby (a traffic switch)\n")
    print(f"**{w:.2f} s** wall, {c:.2f} s CPU (median of {REPEAT}); bare `shipit exec true` on the same hosts: {ew:.2f} s.\n")


def rollback_table(n=10):
    """`shipit rollback` of releases-example to the warm standby on n hosts: n-1 web hosts behind the
    traffic switch and one worker host (its worker restarted on the previous release), next to a
    bare `shipit exec true` on the same hosts, in the same run."""
    import json
    hosts = HOSTS[:n]
    work = "/tmp/shipit-bench-rollback"
    os.makedirs(work, exist_ok=True)
    config = f"{work}/rollback.yml"
    write_config(config, "bench-rollback", hosts[:-1], "/srv/bench-rollback", 18700)
    text = open(config).read().replace(", ".join(hosts[:-1]) + "]", ", ".join(hosts[:-1]) + f", {{host: {hosts[-1]}, roles: [worker]}}]")
    text += "traffic: {proxy: nginx, drain: 1}\nroles:\n  worker: {cmd: sh worker.sh, status: sh worker.sh status, stop_timeout: 10}\n"
    open(config, "w").write(text)
    for v in ("v1", "v2"):
        subprocess.run([SHIPIT, "deploy", "--config", config, "--from", os.path.join(ROOT, "releases-example", v)],
                       check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([SHIPIT, "releases", "--config", config, "--json"], check=True, capture_output=True, text=True).stdout
    ids = sorted(json.loads(out)["hosts"][0]["releases"])[-2:]
    flip = iter(ids * (REPEAT + 1))
    w, c = measure(lambda: subprocess.run([SHIPIT, "rollback", "--config", config, "--to", next(flip)], check=True,
                                          stdout=subprocess.DEVNULL))
    ew, ec = measure(lambda: shipit_exec(hosts))
    print(f"### `shipit rollback` to the warm standby, {n - 1} web hosts (traffic switch) + 1 worker host, wall (client CPU)\n")
    print("| bare `shipit exec true` | shipit rollback | rollback / exec |")
    print("|---:|---:|---:|")
    print(f"| {ew:.2f} s ({ec:.2f} s) | {w:.2f} s ({c:.2f} s) | {w / ew:.2f}× |")
    print()


def ledger_table():
    """`changes` over a big ledger, and what recording costs a deploy."""
    work = "/tmp/shipit-bench-ledger"
    os.makedirs(work, exist_ok=True)
    config = f"{work}/shipit.yml"
    write_config(config, "bench", HOSTS[:3], "/srv/bench-ledger", 18080)
    ledger = f"{work}/.shipit/ledger.sqlite"
    attempts = int(os.environ.get("LEDGER_ATTEMPTS", "100000"))
    marker = f"{work}/.filled-{attempts}"
    if not os.path.exists(marker):
        subprocess.run(["rm", "-rf", f"{work}/.shipit"], check=True)
        t0 = time.perf_counter()
        subprocess.run([BENCH, "ledger-fill", ledger, "bench", str(attempts)], check=True)
        open(marker, "w").close()
        fill = time.perf_counter() - t0
    else:
        fill = None
    steps = subprocess.run(["sqlite3", ledger, "select count(*) from steps"], capture_output=True, text=True).stdout.strip() if shutil.which("sqlite3") else "?"
    size = os.path.getsize(ledger) / 1e6
    print(f"### `shipit changes --since 30d` over {attempts:,} attempts ({steps} step rows, {size:.0f} MB ledger; 30 days ≈ 8,200 attempts)\n")
    if fill:
        print(f"(ledger filled in {fill:.1f} s)\n")
    print("| what | median |")
    print("|---|---:|")
    query_rows(config, "query + timeline")
    for extra, label in (([], "text"), (["--json"], "--json"), (["--limit", "0"], "text, --limit 0")):
        w, c = measure(lambda: subprocess.run([SHIPIT, "changes", "--config", config, "--since", "30d", "--no-hosts", *extra],
                                              check=True, stdout=subprocess.DEVNULL))
        print(f"| whole command, ledger only ({label}) | {w * 1000:.0f} ms (CPU {c * 1000:.0f} ms) |")
    w, c = measure(lambda: subprocess.run([SHIPIT, "changes", "--config", config, "--since", "30d"], check=True, stdout=subprocess.DEVNULL))
    print(f"| whole command, ledger + history of 3 hosts over SSH | {w * 1000:.0f} ms (CPU {c * 1000:.0f} ms) |")
    print()

    n = min(10, len(HOSTS))
    hosts = ",".join(HOSTS[:n])
    os.makedirs(f"{work}/record", exist_ok=True)
    dconfig = f"{work}/record/shipit.yml"  # its own ledger, not the big one
    write_config(dconfig, "bench-record", HOSTS[:n], "/srv/bench-record", 18081)
    release = os.path.join(ROOT, "releases-example/v1")
    times = {"ledger": [], "none": []}
    for _ in range(REPEAT * 2):
        for mode in ("none", "ledger"):
            out = subprocess.run([BENCH, "deploy", dconfig, release, hosts, mode], check=True, capture_output=True, text=True).stdout
            times[mode].append(float(out.split()[0]))
    without, with_ = statistics.median(times["none"]), statistics.median(times["ledger"])
    print(f"### What recording costs a {n}-host deploy (median of {REPEAT * 2} alternating runs)\n")
    print("| without ledger | with ledger | overhead |")
    print("|---:|---:|---:|")
    print(f"| {without:.3f} s | {with_:.3f} s | {(with_ / without - 1) * 100:+.1f} % |")
    print()

BIG = "/tmp/shipit-bench-big"


def big_release(name, changed=False):
    """releases-example v1 plus 80 binary assets of 500 KB (fixed random content): about 40 MB,
    barely compressible; `changed`: the same with one small file different."""
    d = f"{BIG}/{name}"
    if os.path.isdir(d):
        return d
    shutil.copytree(os.path.join(ROOT, "releases-example", "v1"), d)
    os.makedirs(f"{d}/assets")
    rng = __import__("random").Random(37)
    for i in range(80):
        with open(f"{d}/assets/asset-{i:02}.bin", "wb") as f:
            f.write(rng.randbytes(500 * 1024))
    with open(f"{d}/assets/notes.txt", "w") as f:
        f.write("changed\n" if changed else "first\n")
    return d


def rsync_parallel(src, hosts, dest):
    ssh = " ".join(["ssh", *SSH_OPTS])
    check([subprocess.Popen(["rsync", "-a", "--delete", "-e", ssh, src + "/", f"{USER}@{h}:{dest}/"]) for h in hosts])


def tar_gzip_ssh_parallel(src, hosts, dest):
    check([subprocess.Popen(["sh", "-c", 'src=$1; shift; tar -C "$src" -cf - . | gzip | ssh "$@"', "tgs", src, *SSH_OPTS,
                             f"{USER}@{h}", f"mkdir -p {dest} && tar -xzf - -C {dest}"]) for h in hosts])


def big_table(n=10):
    """A 40 MB release and a one-file change to it, next to rsync over OpenSSH (first copy into an
    empty directory, then the change) and `tar | gzip | ssh`, on the same hosts in the same run;
    and releases-example's 5 KB release as the reference for what a deploy costs besides the bytes."""
    hosts = HOSTS[:n]
    work = "/tmp/shipit-bench-big-work"
    os.makedirs(work, exist_ok=True)
    a, b = big_release("a"), big_release("b", changed=True)
    print(f"### A 40 MB release on {n} hosts: first copy and a one-file change, wall (client CPU)\n")
    print("| what | wall (CPU) |")
    print("|---|---:|")
    small = f"{work}/small.yml"
    write_config(small, "benchsmall", hosts, "/srv/bench-small", 18400)
    small_deploy = alternating_deploy(small)
    small_deploy(); small_deploy()
    w, c = measure(small_deploy)
    print(f"| shipit deploy, releases-example (5 KB) | {w:.2f} s ({c:.2f} s) |")
    first = f"{work}/big-first.yml"
    write_config(first, "benchbigfirst", hosts, "/srv/bench-big-first", 18403)
    wipe = lambda: check([subprocess.Popen(["ssh", *SSH_OPTS, f"{USER}@{h}",
                                            "for p in /srv/bench-big-first/shared/app.pid; do [ -f $p ] && kill $(cat $p) 2>/dev/null; done;"
                                            " rm -rf /srv/bench-big-first"]) for h in hosts])
    w, c = measure(lambda: subprocess.run([SHIPIT, "deploy", "--config", first, "--from", a], check=True,
                                          stdout=subprocess.DEVNULL), setup=wipe)
    wipe()
    print(f"| shipit deploy, 40 MB, first deploy (nothing on the hosts) | {w:.2f} s ({c:.2f} s) |")
    config = f"{work}/big.yml"
    write_config(config, "benchbig", hosts, "/srv/bench-big", 18401)
    which = iter([a, b] * (4 * REPEAT + 4))
    big_deploy = lambda: subprocess.run([SHIPIT, "deploy", "--config", config, "--from", next(which)],
                                        check=True, stdout=subprocess.DEVNULL)
    big_deploy(); big_deploy()
    w, c = measure(big_deploy)
    print(f"| shipit deploy, 40 MB, one file changed since the last deploy | {w:.2f} s ({c:.2f} s) |")
    rss = peak_rss_kib([SHIPIT, "deploy", "--config", config, "--from", next(which)])
    print(f"| shipit deploy, 40 MB: peak RSS | {rss / 1024:.1f} MiB |")
    if shutil.which("rsync"):
        clear = lambda: check([subprocess.Popen(["ssh", *SSH_OPTS, f"{USER}@{h}", "rm -rf /srv/bench-rsync"])
                               for h in hosts])
        w, c = measure(lambda: rsync_parallel(a, hosts, "/srv/bench-rsync"), setup=clear)
        print(f"| rsync over OpenSSH, 40 MB, first copy | {w:.2f} s ({c:.2f} s) |")
        flip = iter([a, b] * (4 * REPEAT + 4))
        rsync_parallel(a, hosts, "/srv/bench-rsync")
        w, c = measure(lambda: rsync_parallel(next(flip), hosts, "/srv/bench-rsync"))
        print(f"| rsync over OpenSSH, one file changed | {w:.2f} s ({c:.2f} s) |")
    else:
        print("| rsync | (not installed: scripts/install-deps.sh --bench) |")
    w, c = measure(lambda: tar_gzip_ssh_parallel(a, hosts, "/srv/bench-tgs"))
    print(f"| `tar \\| gzip \\| ssh` per host, 40 MB | {w:.2f} s ({c:.2f} s) |")
    print()


def wan_table(n=10, delay_ms=25):
    """Every SSH byte held `delay_ms` each way (a 2 × delay round trip) by bench/wan.py, a
    delaying TCP proxy on port 2222 of each host: a deploy of releases-example (no proxy, no bake) and
    a rollback next to OpenSSH's bare `ssh -p 2222 host true`, all hosts in parallel. The app's
    public port is not delayed: the smoke test's probes there cost no added round trip."""
    wan = os.path.join(ROOT, "bench", "wan.py")
    if not os.path.exists(wan):
        sys.exit(f"bench: {wan} is missing")
    hosts = HOSTS[:n]
    work = "/tmp/shipit-bench-wan"
    os.makedirs(work, exist_ok=True)
    proxy = subprocess.Popen(["python3", wan, str(delay_ms), *hosts], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        known = f"{work}/known_hosts"
        with open(known, "w") as f:
            subprocess.run(["ssh-keyscan", "-p", "2222", *hosts], stdout=f, stderr=subprocess.DEVNULL, check=True)
        opts = [o if not o.startswith("UserKnownHostsFile=") else f"UserKnownHostsFile={known}" for o in SSH_OPTS]
        bare = lambda: check([subprocess.Popen(["ssh", *opts, "-p", "2222", f"{USER}@{h}", "true"]) for h in hosts])
        config = f"{work}/wan.yml"
        write_config(config, "benchwan", hosts, "/srv/bench-wan", 18402)
        text = open(config).read().replace(f"known_hosts: {KNOWN}", f"known_hosts: {known}, port: 2222")
        open(config, "w").write(text)
        deploy = alternating_deploy(config)
        deploy(); deploy()
        ow, _ = measure(bare)
        dw, dc = measure(deploy)
        rw, rc = measure(lambda: subprocess.run([SHIPIT, "rollback", "--config", config], check=True,
                                                stdout=subprocess.DEVNULL), setup=deploy)
        print(f"### {n} hosts, {delay_ms} ms added each way to every SSH byte, wall (client CPU)\n")
        print("| OpenSSH `ssh true` | shipit deploy | deploy / OpenSSH | shipit rollback | rollback / OpenSSH |")
        print("|---:|---:|---:|---:|---:|")
        print(f"| {ow:.2f} s | {dw:.2f} s ({dc:.2f} s) | {dw / ow:.2f}× | {rw:.2f} s ({rc:.2f} s) | {rw / ow:.2f}× |")
        print()
    finally:
        proxy.kill()


if __name__ == "__main__":
    print(f"hosts available: {len(HOSTS)}, repeats: {REPEAT}, user: {USER}\n")
    which = sys.argv[1:] or ["exec", "deploy", "remote-cpu", "upload", "ledger", "pg", "image", "triage", "traffic",
                             "big", "wan", "rollback"]
    if "exec" in which:
        exec_table()
    if "deploy" in which:
        deploy_table()
    if "upload" in which:
        upload_table()
    if "ledger" in which:
        ledger_table()
    if "image" in which:
        image_table()
    if "triage" in which:
        triage_table()
    if "traffic" in which:
        traffic_table()
    if "pg" in which:
        pg_table()
    if "remote-cpu" in which:
        remote_cpu_table()
    if "big" in which:
        big_table()
    if "wan" in which:
        wan_table()
    if "rollback" in which:
        rollback_table()
