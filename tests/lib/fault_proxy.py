"""A TCP fault proxy of keyrota's own, for the fault-injection suite.

It listens on 127.0.0.1 and forwards each connection to a target (a unix
socket, e.g. PostgreSQL's, or a TCP address, e.g. the fake model server).
On command it can:

  pass       forward bytes both ways (the default)
  delay MS   forward, but hold every chunk MS milliseconds first
  blackhole  swallow: read and drop everything, answer nothing, on current
             and new connections (a partition: the peer sees no RST, no FIN)
  cut        close every current connection at once with an RST

Used in-process by the tests (FaultProxy), or standalone:

  python3 fault_proxy.py --listen 15499 --target unix:/path/.s.PGSQL.5433
  (then type commands on stdin: pass | delay 200 | blackhole | cut | quit)
"""
import argparse
import select
import socket
import struct
import sys
import threading
import time

CHUNK = 65536


class FaultProxy:
    def __init__(self, target, listen_port=0):
        """target: ("unix", path) or ("tcp", host, port)."""
        self.target = target
        self.mode = "pass"
        self.delay_ms = 0
        self.connections = 0          # accepted so far
        self._lock = threading.Lock()
        self._pairs = []              # [client, upstream or None]
        self._stopping = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", listen_port))
        self._listener.listen(512)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    # --- commands ---------------------------------------------------------

    def start(self):
        self._thread.start()
        return self

    def set_pass(self):
        self.mode = "pass"

    def set_delay(self, ms):
        self.delay_ms = ms
        self.mode = "delay"

    def set_blackhole(self):
        self.mode = "blackhole"

    def cut(self):
        """Resets every open connection (both sides)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                _reset(s)

    def stop(self):
        self._stopping = True
        try:
            self._listener.close()
        except OSError:
            pass
        self.cut()

    # --- forwarding -------------------------------------------------------

    def _connect_upstream(self):
        if self.target[0] == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.target[1])
        else:
            s = socket.create_connection((self.target[1], self.target[2]), timeout=5)
        s.settimeout(None)
        return s

    def _accept_loop(self):
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        pair = [client, None]
        with self._lock:
            self._pairs.append(pair)
        try:
            if self.mode == "blackhole":
                # A partitioned peer: the connect "succeeds" (the kernel
                # accepted it) and then nothing ever comes back.
                self._swallow(client)
                return
            try:
                pair[1] = self._connect_upstream()
            except OSError:
                _reset(client)
                return
            self._pump(client, pair[1])
        finally:
            with self._lock:
                if pair in self._pairs:
                    self._pairs.remove(pair)
            for s in pair:
                _close(s)

    def _swallow(self, client):
        while not self._stopping:
            try:
                r, _, _ = select.select([client], [], [], 0.2)
                if r and not client.recv(CHUNK):
                    return
            except (OSError, ValueError):
                return

    def _pump(self, a, b):
        peers = {a: b, b: a}
        while not self._stopping:
            try:
                ready, _, _ = select.select(list(peers), [], [], 0.2)
            except (OSError, ValueError):
                return
            for s in ready:
                try:
                    data = s.recv(CHUNK)
                except OSError:
                    return
                if not data:
                    return
                mode = self.mode
                if mode == "blackhole":
                    continue          # dropped on the floor
                if mode == "delay":
                    time.sleep(self.delay_ms / 1000.0)
                try:
                    peers[s].sendall(data)
                except OSError:
                    return


def _reset(s):
    if s is None:
        return
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    _close(s)


def _close(s):
    if s is None:
        return
    try:
        s.close()
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--target", required=True, help="unix:PATH or HOST:PORT")
    args = ap.parse_args()
    if args.target.startswith("unix:"):
        target = ("unix", args.target[5:])
    else:
        host, port = args.target.rsplit(":", 1)
        target = ("tcp", host, int(port))
    proxy = FaultProxy(target, args.listen).start()
    print("listening on 127.0.0.1:%d" % proxy.port, flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "pass":
            proxy.set_pass()
        elif words[0] == "delay" and len(words) == 2 and words[1].isdigit():
            proxy.set_delay(int(words[1]))
        elif words[0] == "blackhole":
            proxy.set_blackhole()
        elif words[0] == "cut":
            proxy.cut()
        elif words[0] == "quit":
            break
        else:
            print("commands: pass | delay MS | blackhole | cut | quit", flush=True)
            continue
        print("ok " + proxy.mode, flush=True)
    proxy.stop()


if __name__ == "__main__":
    main()
