"""keyrota under systemd, from the binary's side: the man page and --help
agree, sd_notify tells the service manager about readiness, reloads and
drains, and log lines go to journald with their priority and fields when
stderr is the journal. The Debian package itself is tests/package/run.py."""
import glob
import os
import queue
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import uuid

from harness import (BINARY, BUILD, ROOT, TEMPLATE_DIR, VAR, check, database_url, eq, fcgi_get,
                     psql, stack, test, wait_for)

MAN = os.path.join(ROOT, "man", "keyrota.8")
DEFAULTS = os.path.join(ROOT, "debian", "keyrota.default")


def _help():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYROTA_")}
    out = subprocess.run([BINARY, "--help"], env=env, capture_output=True, text=True, timeout=10)
    eq(out.returncode, 0, "keyrota --help exit status")
    return out.stdout


def _help_commands(text):
    section = text.split("commands:", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^  ([a-z][a-z-]*)", section, re.M))


def _man():
    with open(MAN) as f:
        return f.read()


def _man_commands(text):
    synopsis = text.split(".Sh SYNOPSIS", 1)[1].split(".Sh ", 1)[0]
    return set(re.findall(r"^\.Cm (\S+)", synopsis, re.M))


def _source_variables():
    """KEYROTA_* variables the binary reads from its environment."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "src", "*.c")):
        with open(path) as f:
            text = f.read()
        names |= set(re.findall(r'\b(?:getenv|get_string|get_uint|get)\(\s*(?:get, ctx, )?'
                                r'\s*"(KEYROTA_[A-Z0-9_]+)"', text))
    # The standard OpenTelemetry variables the exporter reads.
    with open(os.path.join(ROOT, "src", "otlp.c")) as f:
        names |= set(re.findall(r'"(OTEL_[A-Z0-9_]+)"', f.read()))
    return names


def same(got, want, what):
    if got != want:
        raise AssertionError("%s: only in the first %s, only in the second %s"
                             % (what, sorted(got - want), sorted(want - got)))


@test
def help_man_page_and_etc_default_list_the_same_commands_and_variables():
    help_text, man = _help(), _man()
    same(_man_commands(man), _help_commands(help_text), "man page commands vs --help")
    check({"serve", "migrate", "check", "eval", "provider-check", "version"} <=
          _help_commands(help_text), "every subcommand in --help")
    help_vars = set(re.findall(r"^  ((?:KEYROTA|OTEL|LISTEN|NOTIFY|CREDENTIALS|JOURNAL)_[A-Z0-9_]+)",
                               help_text, re.M))
    help_vars |= set(re.findall(r"\b(LISTEN_PID)\b", help_text))
    environment = man.split(".Sh ENVIRONMENT", 1)[1].split(".Sh ", 1)[0]
    man_vars = set(re.findall(r"\b([A-Z]+_[A-Z0-9_]+)\b",
                              "\n".join(l for l in environment.splitlines()
                                        if l.startswith(".It Ev"))))
    same(man_vars, help_vars, "ENVIRONMENT of keyrota(8) vs --help")
    source = _source_variables()
    check(len(source) > 15, "variables found in src/: %r" % source)
    same(source - help_vars, set(), "variables the binary reads but --help does not list")
    with open(DEFAULTS) as f:
        defaults = set(re.findall(r"^#(KEYROTA_[A-Z0-9_]+)=", f.read(), re.M))
    same(defaults, {v for v in help_vars if v.startswith("KEYROTA_")},
         "debian/keyrota.default vs --help")


@test
def man_page_is_mandoc_lint_clean():
    out = subprocess.run(["mandoc", "-Tlint", "-Wstyle", MAN], capture_output=True, text=True,
                         timeout=30)
    # An outdated whatis database of the machine is not the page's fault.
    lines = [l for l in (out.stdout + out.stderr).splitlines() if "mandoc.db" not in l]
    eq(lines, [], "mandoc -Tlint")
    eq(out.returncode, 0, "mandoc exit status")


def _require_libsystemd():
    with open(os.path.join(BUILD, "autoconfig.h")) as f:
        check("#define HAVE_LIBSYSTEMD 1" in f.read(),
              "this build has no libsystemd (apt-get install libsystemd-dev and rebuild)")


def _serve_env(tmp, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KEYROTA_", "LISTEN_", "NOTIFY_", "JOURNAL_"))}
    env.update({"KEYROTA_WORKERS": "2", "KEYROTA_THREADS": "2", "KEYROTA_USER": "keyrota",
                "KEYROTA_DATABASE_URL": database_url(),
                "KEYROTA_FINGERPRINT_KEY_FILE": os.path.join(VAR, "secrets", "fingerprint.key"),
                "KEYROTA_TEMPLATE_DIR": TEMPLATE_DIR,
                "KEYROTA_LISTEN": "unix:" + os.path.join(tmp, "keyrota.sock")})
    env.update(extra)
    return env


def _fcgi(path, params=None):
    try:
        return fcgi_get(path, "/healthz", params)
    except OSError:
        return None


class Datagrams:
    """A datagram socket at path that anyone may write to. A thread drains
    it at once, as journald and systemd do, so a sender never waits on a
    full queue (the kernel keeps only a few datagrams); until() reads what
    arrived in order."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.received = []
        self._queue = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        while True:
            try:
                self._queue.put(self.sock.recv(65536))
            except OSError:
                return

    def until(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                data = self._queue.get(timeout=left)
            except queue.Empty:
                return None
            self.received.append(data)
            if predicate(data):
                return data


def _fields(datagram):
    """sd_notify lines, or journald's native protocol (KEY=value lines,
    or KEY\\n + 64-bit little-endian length + value + \\n)."""
    out, i = {}, 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            out[k.decode()] = v.decode("utf-8", "replace")
            i = nl + 1
        else:
            (n,) = struct.unpack("<Q", datagram[nl + 1:nl + 9])
            out[line.decode()] = datagram[nl + 9:nl + 9 + n].decode("utf-8", "replace")
            i = nl + 9 + n + 1
    return out


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@test
def sd_notify_ready_once_workers_accept_then_reloading_and_stopping():
    _require_libsystemd()
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)
    notify = Datagrams(os.path.join(tmp, "notify.sock"))
    sock = os.path.join(tmp, "keyrota.sock")
    proc = subprocess.Popen([BINARY, "serve"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "serve.log"), "w"),
                            env=_serve_env(tmp, NOTIFY_SOCKET=notify.sock.getsockname()))
    try:
        ready = notify.until(lambda d: b"READY=1" in d.split(b"\n"), 15)
        check(ready, "READY=1; got %r" % notify.received)
        # READY=1 means the workers accept: the first request is answered.
        out = _fcgi(sock)
        check(out and b"Status: 200" in out, "answered right after READY=1: %r" % out)
        check(re.search(rb"STATUS=2 workers accepting, \d+ decisions in flight", ready),
              "STATUS with decisions in flight: %r" % ready)

        old = set(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                 text=True).stdout.split())
        proc.send_signal(signal.SIGHUP)
        check(notify.until(lambda d: b"RELOADING=1" in d.split(b"\n"), 10),
              "RELOADING=1 after SIGHUP; got %r" % notify.received)
        reloading = notify.received[-1]
        check(re.search(rb"MONOTONIC_USEC=\d+", reloading), "MONOTONIC_USEC: %r" % reloading)
        check(notify.until(lambda d: b"READY=1" in d.split(b"\n"), 15),
              "READY=1 once the new generation accepts; got %r" % notify.received)
        new = set(subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                 text=True).stdout.split())
        check(new - old, "a new generation of workers")

        proc.send_signal(signal.SIGTERM)
        check(notify.until(lambda d: b"STOPPING=1" in d.split(b"\n"), 10),
              "STOPPING=1 after SIGTERM; got %r" % notify.received)
        eq(proc.wait(timeout=20), 0, "clean exit")
        order = [f for d in notify.received for f in d.decode().split("\n")
                 if f in ("READY=1", "RELOADING=1", "STOPPING=1")]
        eq(order, ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"], "notify messages")
    finally:
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def _fcgi_post_json(path, uri, body, headers):
    """One FastCGI POST with a JSON body; returns the raw CGI response."""
    def record(rtype, content):
        return struct.pack("!BBHHBx", 1, rtype, 1, len(content), 0) + content

    def pair(k, v):
        k, v = k.encode(), v.encode()
        return bytes([len(k)]) + (bytes([len(v)]) if len(v) < 128 else
                                  struct.pack("!I", len(v) | 0x80000000)) + k + v

    params = {"REQUEST_METHOD": "POST", "DOCUMENT_URI": uri, "REQUEST_URI": uri,
              "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
              "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
              "HTTP_ACCEPT": "application/json"}
    params.update(headers)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    s.sendall(record(1, struct.pack("!HB5x", 1, 0)) +
              record(4, b"".join(pair(k, v) for k, v in params.items())) + record(4, b"") +
              record(5, body) + record(5, b""))
    out = b""
    while True:
        hdr = s.recv(8, socket.MSG_WAITALL)
        if len(hdr) < 8:
            break
        _, rtype, _, clen, plen = struct.unpack("!BBHHBx", hdr)
        content = s.recv(clen + plen, socket.MSG_WAITALL)[:clen] if clen + plen else b""
        if rtype == 6:
            out += content
        elif rtype == 3:
            break
    s.close()
    return out


def _serve_with_journal(tmp, journal_stream_of_stderr, **extra):
    """keyrota serve in a mount namespace of its own where /run is tmp, so
    its journald socket (/run/systemd/journal/socket) is the one this test
    reads; the machine's /run is untouched."""
    os.makedirs(os.path.join(tmp, "systemd", "journal"))
    for d in (tmp, os.path.join(tmp, "systemd"), os.path.join(tmp, "systemd", "journal")):
        os.chmod(d, 0o755)
    journal = Datagrams(os.path.join(tmp, "systemd", "journal", "socket"))
    log_path = os.path.join(tmp, "stderr.log")
    stderr = open(log_path, "w")
    st = os.fstat(stderr.fileno())
    stream = "%d:%d" % (st.st_dev, st.st_ino) if journal_stream_of_stderr else \
        "%d:%d" % (st.st_dev, st.st_ino + 1)
    sock_dir = tempfile.mkdtemp()
    os.chmod(sock_dir, 0o755)
    env = _serve_env(sock_dir, JOURNAL_STREAM=stream, **extra)
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                             'mount --bind "$1" /run && exec "$0" serve', BINARY, tmp],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                            env=env)
    stderr.close()
    return proc, journal, log_path, os.path.join(sock_dir, "keyrota.sock"), sock_dir


@test
def logs_go_to_journald_with_priority_and_fields_when_stderr_is_the_journal():
    _require_libsystemd()
    tmp = tempfile.mkdtemp()
    proc, journal, log_path, sock, sock_dir = _serve_with_journal(tmp, True)
    try:
        started = journal.until(lambda d: b"keyrota serving" in d, 15)
        check(started, "start line in the journal; got %r" % journal.received[:3])
        f = _fields(started)
        eq(f.get("PRIORITY"), "6", "PRIORITY of an info line")
        eq(f.get("SYSLOG_IDENTIFIER"), "keyrota", "SYSLOG_IDENTIFIER")

        check(wait_for(lambda: _fcgi(sock, {"KEYROTA_REQUEST_ID": "0123abcd4567ef89aa"}),
                       timeout=10), "a request answered")
        access = journal.until(lambda d: b"REQUEST_ID=0123abcd4567ef89aa" in d, 10)
        check(access, "the access line carries REQUEST_ID; got %r" % journal.received[-3:])
        f = _fields(access)
        eq((f.get("PRIORITY"), f.get("KEYROTA_ROUTE"), f.get("KEYROTA_STATUS")),
           ("6", "/healthz", "200"), "access line fields")

        # An error: a worker killed under the supervisor.
        workers = wait_for(lambda: subprocess.run(["pgrep", "-P", str(proc.pid)],
                                                  capture_output=True, text=True).stdout.split(),
                           timeout=10)
        os.kill(int(workers[0]), signal.SIGKILL)
        died = journal.until(lambda d: b"killed by signal 9" in d, 10)
        check(died, "the worker's death in the journal; got %r" % journal.received[-3:])
        eq(_fields(died).get("PRIORITY"), "3", "PRIORITY of an error line (journalctl -p err)")
        eq(_stop(proc), 0, "clean exit")
        with open(log_path) as f:
            eq(f.read(), "", "nothing on stderr while it is the journal")
    finally:
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)


@test
def logs_stay_json_lines_when_stderr_is_not_the_journal():
    _require_libsystemd()
    tmp = tempfile.mkdtemp()
    # JOURNAL_STREAM names another file: stderr was redirected after systemd
    # set it up, so it is not the journal.
    proc, journal, log_path, sock, sock_dir = _serve_with_journal(tmp, False)
    try:
        check(wait_for(lambda: _fcgi(sock), timeout=15), "a request answered")
        check(wait_for(lambda: '"route":"/healthz"' in open(log_path).read(), timeout=5),
              "the access line on stderr")
        eq(_stop(proc), 0, "clean exit")
        with open(log_path) as f:
            lines = [l for l in f.read().splitlines() if l]
        check(lines and all(l.startswith("{") and l.endswith("}") for l in lines),
              "JSON lines: %r" % lines[:3])
        eq(journal.until(lambda d: True, 0.2), None, "nothing sent to journald")
    finally:
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)


@test
def a_trace_error_reaches_journald_with_its_trace_id():
    _require_libsystemd()
    tmp = tempfile.mkdtemp()
    # The fixture takes two seconds; PostgreSQL stops while it thinks, so the
    # terminal update fails until the trace's deadline (a short grace here)
    # and keyrota logs an error about that trace.
    proc, journal, log_path, sock, sock_dir = _serve_with_journal(
        tmp, True, KEYROTA_WORKERS="1", KEYROTA_FIXTURE_DELAY_MS="2000",
        KEYROTA_REAPER_GRACE_MS="1000")
    key = "journal-" + uuid.uuid4().hex
    answers = []
    body = b'{"account_id":"acct_10234","credential_report":"The CI deploy key is stale."}'
    poster = threading.Thread(target=lambda: answers.append(
        _fcgi_post_json(sock, "/rotation/decide", body, {"HTTP_IDEMPOTENCY_KEY": key})))
    pg_stopped = False
    try:
        check(wait_for(lambda: _fcgi(sock), timeout=15), "serving")
        poster.start()
        rows = wait_for(lambda: psql("SELECT trace_id FROM traces WHERE idempotency_key = "
                                     ":'p1' AND status = 'running'", key), timeout=10)
        check(rows, "the running row is committed")
        trace_id = rows[0][0]
        stack("pg-stop")
        pg_stopped = True
        poster.join(timeout=30)
        # The trace was started: the client gets its id (202 while the
        # terminal write is retried), never "nothing was started".
        check(answers and trace_id.encode() in answers[0] and
              b"database_unavailable" not in answers[0],
              "the client is told: %r" % (answers[:1],))
        line = journal.until(lambda d: ("KEYROTA_TRACE_ID=" + trace_id).encode() in d, 10)
        check(line, "the trace's error in the journal; got %r" % journal.received[-3:])
        f = _fields(line)
        eq((f.get("PRIORITY"), f.get("KEYROTA_TRACE_ID")), ("3", trace_id),
           "an error about that trace (journalctl -p err KEYROTA_TRACE_ID=...)")
    finally:
        if pg_stopped:
            stack("pg-start")
        _stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)
