#!/usr/bin/env python3
"""The Debian package, as an operator gets it (README, "Install on Debian").

Builds keyrota_*.deb with dpkg-buildpackage from a copy of the tracked files
(the tree stays clean), checks it with lintian, installs it with apt-get,
checks the units with systemd-analyze, then runs the installed binary the
way keyrota.socket and keyrota.service would without systemd as PID 1:
systemd-socket-activate on the unit's socket path with the unit's
environment file, as the unit's user, with the key directory handed over as
credentials and NOTIFY_SOCKET pointing at a datagram socket this test reads.
nginx, rendered on its own port, includes the installed snippet; the
database is the test PostgreSQL. One decision goes through end to end, then
SIGHUP and SIGTERM must show RELOADING=1 and STOPPING=1. Finally the
package is purged and nothing it installed may be left.

Runs as root (apt-get, adduser). Prints "package: N passed, N failed"."""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import http.client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STACK = os.path.join(ROOT, "scripts", "stack")
UNIT_DIR = "/lib/systemd/system"
# What building and checking the package needs on top of scripts/stack deps.
TOOLS = ["debhelper", "dpkg-dev", "lintian", "libsystemd-dev", "systemd",
         "util-linux", "adduser", "nginx-light", "mandoc"]


def free_port():
    """A port on 127.0.0.1 nobody uses now, for this test's own nginx."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HTTP_PORT = free_port()

passed = 0
failed = 0
facts = {}     # figures for the closing report


def say(msg):
    print(msg, flush=True)


def step(name):
    """Runs a check function and counts it; a failure is printed with why."""
    def wrap(fn):
        global passed, failed
        t0 = time.monotonic()
        try:
            fn()
        except Exception:
            failed += 1
            say("FAIL %s (%.1fs)" % (name, time.monotonic() - t0))
            say("    " + traceback.format_exc().strip().replace("\n", "\n    "))
            return fn
        passed += 1
        say("ok   %s (%.1fs)" % (name, time.monotonic() - t0))
        return fn
    return wrap


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def run(args, timeout=600, check_rc=True, **kw):
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check_rc and out.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(args), out.returncode,
                                                     out.stdout[-3000:], out.stderr[-3000:]))
    return out


def installed(pkg):
    out = run(["dpkg-query", "-W", "-f=${Status}", pkg], check_rc=False)
    return out.returncode == 0 and "install ok installed" in out.stdout


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


WORK = tempfile.mkdtemp(prefix="keyrota-package-")
os.chmod(WORK, 0o755)       # the keyrota user and nginx's workers reach into it
state = {"deb": None, "files": [], "user_existed": user_exists("keyrota"),
         "pg_started": False}


@step("build tools installed")
def tools():
    missing = [p for p in TOOLS if not installed(p)]
    if missing:
        say("     installing " + " ".join(missing))
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if installed("keyrota"):       # left by an interrupted run
        run(["apt-get", "purge", "-y", "-qq", "keyrota"])


@step("dpkg-buildpackage -us -uc -b builds keyrota_*.deb from a copy of the tree")
def build():
    src = os.path.join(WORK, "keyrota")
    os.mkdir(src)
    files = run(["git", "-C", ROOT, "ls-files", "-z"]).stdout
    # Tracked files only, as in a fresh clone; nothing is written to ROOT.
    tar = subprocess.Popen(["tar", "-C", ROOT, "--null", "-T", "-", "-cf", "-"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    untar = subprocess.Popen(["tar", "-C", src, "-xf", "-"], stdin=tar.stdout)
    tar.stdout.close()
    tar.stdin.write(files.encode())
    tar.stdin.close()
    check(tar.wait() == 0 and untar.wait() == 0, "copying the tracked files failed")
    log = os.path.join(WORK, "build.log")
    with open(log, "w") as f:
        rc = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, stdout=f,
                            stderr=subprocess.STDOUT, timeout=900).returncode
    with open(log) as f:
        tail = f.read()[-3000:]
    check(rc == 0, "dpkg-buildpackage failed:\n" + tail)
    debs = [n for n in os.listdir(WORK) if re.match(r"keyrota_.*\.deb$", n)]
    check(len(debs) == 1, "one keyrota_*.deb, got %r" % debs)
    state["deb"] = os.path.join(WORK, debs[0])
    facts["deb"] = debs[0]


@step("lintian reports no errors and no warnings")
def lintian():
    check(state["deb"], "no package")
    changes = state["deb"][:-len(".deb")] + ".changes"
    # As an unprivileged user, as lintian prefers; WORK is readable.
    out = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
               "lintian", state["deb"], changes], check_rc=False, cwd=WORK,
              env=dict(os.environ, HOME="/tmp"))
    lines = [l for l in (out.stdout + out.stderr).splitlines() if l.strip()]
    facts["lintian"] = lines or ["(no output)"]
    bad = [l for l in lines if re.match(r"^[EW]: ", l)]
    check(not bad, "lintian:\n" + "\n".join(lines))


@step("apt-get install ./keyrota_*.deb")
def install():
    check(state["deb"], "no package")
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", state["deb"]],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    check(installed("keyrota"), "keyrota is not installed")
    state["files"] = run(["dpkg-query", "-L", "keyrota"]).stdout.split("\n")


@step("the package installs binary, data, conffiles, key directory, snippet, man page and user")
def layout():
    for path in ["/usr/bin/keyrota", "/usr/share/keyrota/sql/001_initial.sql",
                 "/usr/share/keyrota/templates/form.html", "/usr/share/keyrota/static/keyrota.css",
                 "/usr/share/man/man8/keyrota.8.gz", UNIT_DIR + "/keyrota.service",
                 UNIT_DIR + "/keyrota.socket", "/etc/nginx/snippets/keyrota.conf",
                 "/etc/nginx/conf.d/keyrota-limits.conf", "/etc/default/keyrota"]:
        check(os.path.exists(path), path + " missing")
    conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "keyrota"]).stdout
    for path in ["/etc/default/keyrota", "/etc/nginx/snippets/keyrota.conf",
                 "/etc/nginx/conf.d/keyrota-limits.conf"]:
        check(path in conffiles, path + " is not a conffile")
    pw = pwd.getpwnam("keyrota")
    check(pw.pw_uid < 1000 and pw.pw_shell in ("/usr/sbin/nologin", "/bin/false"),
          "keyrota is a system user without a shell: %r" % (pw,))
    st = os.stat("/etc/keyrota")
    check(st.st_mode & 0o777 == 0o750 and st.st_uid == 0 and st.st_gid == pw.pw_gid,
          "/etc/keyrota is root:keyrota 0750, got %o %d:%d" % (st.st_mode & 0o777, st.st_uid,
                                                            st.st_gid))
    with open("/etc/nginx/snippets/keyrota.conf") as f:
        snippet = f.read()
    check("unix:/run/keyrota/keyrota.sock" in snippet and "/usr/share/keyrota/static/" in snippet
          and not re.search(r"@[A-Z_]+@", snippet), "snippet rendered with Debian paths")
    # Every variable the binary reads, commented out at its default.
    help_vars = set(re.findall(r"^  (KEYROTA_[A-Z0-9_]+)", run(["/usr/bin/keyrota", "--help"]).stdout,
                               re.M))
    with open("/etc/default/keyrota") as f:
        default = f.read()
    check(not re.search(r"^\s*KEYROTA_", default, re.M), "a variable is set in /etc/default")
    check(set(re.findall(r"^#(KEYROTA_[A-Z0-9_]+)=", default, re.M)) == help_vars,
          "/etc/default/keyrota lists the variables of keyrota --help")


def unit(name):
    """The installed unit as {key: [values]}."""
    values = {}
    with open(os.path.join(UNIT_DIR, name)) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")) and "=" in line:
                k, v = line.split("=", 1)
                values.setdefault(k, []).append(v)
    return values


@step("systemd-analyze verify is clean for the installed units")
def verify():
    out = run(["systemd-analyze", "verify", UNIT_DIR + "/keyrota.socket",
               UNIT_DIR + "/keyrota.service"], check_rc=False)
    text = (out.stdout + out.stderr).strip()
    facts["verify"] = text or "(no output)"
    check(out.returncode == 0 and text == "", "systemd-analyze verify:\n" + text)


@step("systemd-analyze security keyrota.service scores OK or better")
def security():
    out = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
               UNIT_DIR + "/keyrota.service"], check_rc=False)
    m = re.search(r"Overall exposure level for keyrota.service: ([0-9.]+) (\w+)", out.stdout)
    check(m, "no score in:\n" + out.stdout[-2000:] + out.stderr[-1000:])
    facts["security"] = "%s %s" % (m.group(1), m.group(2))
    check(m.group(2) in ("OK", "SAFE", "PERFECT"), "exposure " + facts["security"])


def env_file(path):
    """KEY=VALUE lines of a systemd EnvironmentFile (no expansion)."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")) or "=" not in line:
                continue
            k, v = line.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            env[k.strip()] = v
    return env


def fetch(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class Notify:
    """The NOTIFY_SOCKET end that systemd would hold."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.messages = []

    def wait_for(self, field, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            self.messages.append(data)
            if field in data.split("\n"):
                return data
        raise AssertionError("no %s within %ss; got %r" % (field, timeout, self.messages))


def render_nginx(tmp):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""user www-data www-data;
worker_processes 1;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log %(tmp)s/nginx-access.log;
    client_body_temp_path %(tmp)s/body;
    fastcgi_temp_path %(tmp)s/fastcgi;
    proxy_temp_path %(tmp)s/proxy;
    uwsgi_temp_path %(tmp)s/uwsgi;
    scgi_temp_path %(tmp)s/scgi;
    include /etc/nginx/conf.d/keyrota-limits.conf;
    server {
        listen 127.0.0.1:%(port)d;
        include /etc/nginx/snippets/keyrota.conf;
    }
}
""" % {"tmp": tmp, "port": HTTP_PORT})
    run(["nginx", "-t", "-q", "-c", conf])
    return conf


@step("the installed binary serves under socket activation and reports READY, RELOADING, STOPPING")
def serve():
    check(installed("keyrota"), "not installed")
    socket_unit, service = unit("keyrota.socket"), unit("keyrota.service")
    sock_path = socket_unit["ListenStream"][0]
    env_path = service["EnvironmentFile"][0].lstrip("-")
    user = service["User"][0]
    cred_id, cred_dir = service["LoadCredential"][0].split(":", 1)
    check(service["Type"] == ["notify"], "Type=notify")

    # The test PostgreSQL, migrated by the installed binary and its SQL.
    url = run([STACK, "database-url"]).stdout
    if run(["psql", url, "-Atqc", "SELECT 1"], check_rc=False).returncode != 0:
        run([STACK, "pg-start"])
        state["pg_started"] = True
    out = run(["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups",
               "/usr/bin/keyrota", "migrate"], cwd="/",
              env={"PATH": "/usr/bin:/bin", "KEYROTA_DATABASE_URL": url})
    check("migrations applied" in out.stdout, out.stdout)
    run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qf",
         "/usr/share/keyrota/sql/seed/demo_accounts.sql"])
    # The service logs in as a member of keyrota_runtime (README, "Database roles").
    run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
         "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keyrota_app') "
         "THEN CREATE ROLE keyrota_app LOGIN IN ROLE keyrota_runtime; END IF; END $$"])
    runtime_url = run([STACK, "runtime-database-url"]).stdout

    # The operator's part (README): the database URL and the fingerprint key.
    with open(env_path, "a") as f:
        # No model key here: the operator chooses the fixture explicitly,
        # over the unit's KEYROTA_PROVIDER=openai.
        f.write("KEYROTA_DATABASE_URL='%s'\nKEYROTA_WORKERS=2\nKEYROTA_THREADS=4\n"
                "KEYROTA_PROVIDER=fixture\n" % runtime_url)
    key = os.path.join(cred_dir, "fingerprint.key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    state["wrote_key"] = True
    os.write(fd, os.urandom(32).hex().encode() + b"\n")
    os.close(fd)

    # LoadCredential=ID:DIR — every file of DIR as ID_FILE, owned by the
    # service user, mode 0400, in a directory only it may enter.
    creds = os.path.join(WORK, "credentials")
    os.mkdir(creds, 0o700)
    pw = pwd.getpwnam(user)
    for name in os.listdir(cred_dir):
        dst = os.path.join(creds, "%s_%s" % (cred_id, name))
        shutil.copyfile(os.path.join(cred_dir, name), dst)
        os.chmod(dst, 0o400)
        os.chown(dst, pw.pw_uid, pw.pw_gid)
    os.chown(creds, pw.pw_uid, pw.pw_gid)

    notify = Notify(os.path.join(WORK, "notify.sock"))
    if os.path.lexists(sock_path):
        os.unlink(sock_path)        # as systemd does before it binds
    os.makedirs(os.path.dirname(sock_path), mode=int(socket_unit["DirectoryMode"][0], 8),
                exist_ok=True)
    state["run_dir"] = os.path.dirname(sock_path)
    # As systemd builds it: the unit's Environment= lines, then the
    # environment file over them.
    env = dict(v.split("=", 1) for v in service.get("Environment", []))
    check(env.get("KEYROTA_PROVIDER") == "openai", "the unit asks for a model: %r" % env)
    env.update(env_file(env_path))
    check("KEYROTA_DATABASE_URL" in env, "environment file read")
    args = ["systemd-socket-activate", "-l", sock_path,
            "-E", "NOTIFY_SOCKET=" + notify.sock.getsockname(),
            "-E", "CREDENTIALS_DIRECTORY=" + creds]
    for k, v in env.items():
        args += ["-E", "%s=%s" % (k, v)]
    args += ["setpriv", "--reuid=" + user, "--regid=" + service.get("Group", [user])[0],
             "--init-groups", "--no-new-privs"]
    args += service["ExecStart"][0].split()
    log = open(os.path.join(WORK, "keyrota.log"), "w")
    umask = int(service.get("UMask", ["0022"])[0], 8)
    # As systemd runs a service: from /, with the unit's umask.
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
                            preexec_fn=lambda: os.umask(umask))
    nginx = None
    try:
        # Bound and listening once it says so (a stale file is replaced).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(os.path.join(WORK, "keyrota.log")) as f:
                if "Listening on " + sock_path in f.read():
                    break
            time.sleep(0.05)
        # SocketUser/SocketGroup/SocketMode, as systemd applies them.
        grp = socket_unit["SocketGroup"][0]
        shutil.chown(sock_path, socket_unit.get("SocketUser", ["root"])[0], grp)
        os.chmod(sock_path, int(socket_unit["SocketMode"][0], 8))

        check(proc.poll() is None, "systemd-socket-activate exited")

        # Like systemd, systemd-socket-activate starts the service on the
        # first connection: this one, through nginx.
        nginx = subprocess.Popen(["nginx", "-c", render_nginx(WORK)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        deadline = t0 + 20
        status = None
        while time.monotonic() < deadline:
            try:
                status, _ = fetch("GET", "/healthz")
                if status == 200:
                    break
            except OSError as e:
                status = str(e)
            time.sleep(0.1)
        check(status == 200, "/healthz through nginx: %r" % status)
        notify.wait_for("READY=1", 20)
        facts["first request to READY=1 (s)"] = round(time.monotonic() - t0, 2)

        body = json.dumps({"account_id": "acct_10234",
                           "credential_report": "The CI deploy key is stale."})
        status, raw = fetch("POST", "/rotation/decide", body,
                           {"Content-Type": "application/json",
                            "Idempotency-Key": "package-%d" % time.time_ns()})
        check(status == 200, "decision answered %d: %r" % (status, raw[:300]))
        answer = json.loads(raw)
        check(answer["status"] == "completed" and answer["decision"] == "eligible" and
              answer["source_line_ids"] == ["P-7"], "decision: %r" % answer)
        state["trace_id"] = answer["trace_id"]
        facts["decision"] = answer
        status, raw = fetch("GET", "/rotation/traces/" + answer["trace_id"],
                           headers={"Accept": "application/json"})
        check(status == 200 and json.loads(raw)["status"] == "completed", "trace page")
        status, raw = fetch("GET", "/static/keyrota.css")
        check(status == 200 and len(raw) > 0, "static files from /usr/share/keyrota/static")

        proc.send_signal(signal.SIGHUP)             # ExecReload=/bin/kill -HUP $MAINPID
        notify.wait_for("RELOADING=1", 10)
        notify.wait_for("READY=1", 20)
        status, _ = fetch("GET", "/readyz")
        check(status == 200, "ready after the reload: %d" % status)

        proc.send_signal(signal.SIGTERM)            # systemctl stop
        notify.wait_for("STOPPING=1", 10)
        rc = proc.wait(timeout=30)
        check(rc == 0, "clean exit after SIGTERM, got %d" % rc)
        facts["notify"] = [m.replace("\n", " | ") for m in notify.messages]
        order = [f for m in notify.messages for f in m.split("\n")
                 if f in ("READY=1", "RELOADING=1", "STOPPING=1")]
        check(order == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
              "notify order: %r" % order)
        with open(os.path.join(WORK, "keyrota.log")) as f:
            # keyrota's lines follow systemd-socket-activate's "Execing ...".
            lines = [l for l in f.read().split("Execing ", 1)[1].splitlines()[1:] if l.strip()]
        check(lines and all(l.startswith("{") and l.endswith("}") for l in lines),
              "JSON log lines when stderr is not the journal: %r" % lines[:3])
    except Exception as e:
        logs = ""
        for name in ("keyrota.log", "nginx-error.log"):
            if os.path.exists(os.path.join(WORK, name)):
                with open(os.path.join(WORK, name)) as f:
                    logs += "\n%s:\n%s" % (name, f.read()[-1500:])
        raise AssertionError("%s%s" % (e, logs)) from e
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
        log.close()


@step("purge removes everything the package installed, and keeps the database")
def purge():
    check(state["files"], "nothing was installed")
    run(["apt-get", "purge", "-y", "-qq", "keyrota"],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    check(not installed("keyrota"), "still installed")
    # What systemd's socket unit would have made of /run/keyrota goes too.
    sock_dir = state.get("run_dir")
    if sock_dir and os.path.isdir(sock_dir):
        shutil.rmtree(sock_dir)
    # Files, and directories of keyrota's own; /usr/share/man and the like
    # belong to others too.
    left = [p for p in state["files"] if p and os.path.lexists(p) and
            (not os.path.isdir(p) or "keyrota" in p) and p != "/etc/keyrota"]
    check(not left, "left after purge: %r" % left)
    for path in ["/etc/default/keyrota", "/var/lib/keyrota"]:
        check(not os.path.lexists(path), path + " left after purge")
    # The operator's key files outlive a purge (the kept database's traces
    # need the fingerprint key); the directory holds nothing else.
    kept = sorted(os.listdir("/etc/keyrota")) if os.path.isdir("/etc/keyrota") else []
    check(kept == ["fingerprint.key"], "what purge keeps in /etc/keyrota: %r" % kept)
    shutil.rmtree("/etc/keyrota")
    for d in ["/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
              "/var/lib/systemd/deb-systemd-helper-masked"]:
        for base, _, names in os.walk(d):
            hits = [n for n in names if "keyrota" in n]
            check(not hits, "left in %s: %r" % (base, hits))
    # The user goes only when the package created it (here: the test stack
    # may have made it first).
    check(user_exists("keyrota") == state["user_existed"],
          "keyrota user: existed before %s, exists now %s" % (state["user_existed"],
                                                             user_exists("keyrota")))
    if state.get("trace_id"):
        url = run([STACK, "database-url"]).stdout
        rows = run(["psql", url, "-Atqc", "SELECT status FROM traces WHERE trace_id = '%s'"
                    % state["trace_id"]]).stdout.split()
        check(rows == ["completed"], "the database keeps the trace: %r" % rows)


def main():
    try:
        for name, value in facts.items():
            if isinstance(value, list):
                say("%s:" % name)
                for v in value:
                    say("    " + str(v))
            else:
                say("%s: %s" % (name, value))
    finally:
        if installed("keyrota"):
            run(["apt-get", "purge", "-y", "-qq", "keyrota"], check_rc=False)
        if state.get("wrote_key"):
            # The key the test wrote outlives a purge by design.
            shutil.rmtree("/etc/keyrota", ignore_errors=True)
        if state["pg_started"]:
            run([STACK, "pg-stop"], check_rc=False)
        shutil.rmtree(WORK, ignore_errors=True)
    say("package: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
