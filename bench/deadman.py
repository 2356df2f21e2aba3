"""The dead-man switch, timed: the real `textback run` on the live pty simulator, a local HTTP
server standing in for Healthchecks.

    python bench/deadman.py [--every 10] [--fail-after 10] [--pings 6]

writes its section of bench/RESULTS.md: the spacing of success pings against ping_every, how
long after the modem stops answering the /fail arrives (the promise: within fail_after +
ping_every), and ring-to-text while the ping server answers nothing (a request that hangs must
not hold up a text).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import crash  # noqa: E402


class Server:
    def __init__(self):
        self.requests: list[tuple[float, str, str]] = []
        self.hang = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                outer.requests.append((time.time(), self.command, self.path))
                if outer.hang.is_set():
                    time.sleep(30)      # longer than textback's 5 s timeout
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/ping/bench-uuid"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def wait(done, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    from results import machine, write_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=10)
    parser.add_argument("--fail-after", type=float, default=10)
    parser.add_argument("--pings", type=int, default=6)
    args = parser.parse_args()
    server = Server()
    # Three missed calls late in the run, while the ping server hangs every request.
    calls, plan = crash.burst(3, 4.0)
    sim = crash.WatchedSim("sim800", steps=calls)
    began: list[float] = []
    sim.start(lambda: time.monotonic() - began[0] if began else -1.0)
    with tempfile.TemporaryDirectory(prefix="textback-deadman-") as tmp:
        config = crash.write_config(Path(tmp), sim.port_name)
        config.write_text(config.read_text() + f'\n[health]\nping_url = "{server.url}"\n'
                          f"ping_every = {args.every:g}\nfail_after = {args.fail_after:g}\n")
        config.chmod(0o600)
        daemon = crash.Process(config, Path(tmp) / "t.db")
        try:
            if daemon.wait_for(crash.READY, 60) is None:
                sys.exit("deadman: the daemon did not start: "
                         + "\n".join(line for _, line in daemon.log[-10:]))
            wait(lambda: len(server.requests) >= args.pings, args.every * (args.pings + 2))
            gets = [t for t, method, _ in server.requests if method == "GET"]
            gaps = [b - a for a, b in zip(gets, gets[1:])]
            # Calls while every ping hangs 30 s: hang-up to AT+CMGS as the sim saw it.
            server.hang.set()
            began.append(time.monotonic())
            wait(lambda: len(sim.landed) >= 3, 60)
            ends = [began[0] + t + crash.CALL_LENGTH for _, t in plan]
            to_text = [landed - end for landed, end in zip(sim.landed, ends)]
            server.hang.clear()
            time.sleep(args.every)   # let the hung request finish, pings resume
            stopped = time.time()
            sim.hang()
            wait(lambda: any(m == "POST" and t > stopped for t, m, _ in server.requests),
                 args.fail_after + args.every + 60)
            fail = next((t for t, m, p in server.requests if m == "POST" and t > stopped), None)
        finally:
            daemon.stop() if daemon.proc.poll() is None else None
            sim.close()
    lines = [
        f"`python bench/deadman.py --every {args.every:g} --fail-after {args.fail_after:g}`: "
        f"`textback run` on the live pty simulator, a local HTTP server as Healthchecks.",
        "", f"{machine()}.", "",
        "| figure | value |", "| --- | --- |",
        f"| success pings, spacing (ping_every {args.every:g} s) | median "
        f"{statistics.median(gaps):.2f} s, min {min(gaps):.2f}, max {max(gaps):.2f} "
        f"({len(gets)} pings) |",
        "| modem stops answering -> /fail arrives | "
        + (f"{fail - stopped:.1f} s (promise: within fail_after + ping_every = "
           f"{args.fail_after + args.every:g} s) |" if fail else "never |"),
        "| hang-up -> AT+CMGS while every ping hangs 30 s | "
        + (", ".join(f"{x * 1000:.0f} ms" for x in to_text) if to_text else "no text") + " |",
    ]
    write_section("deadman", "Dead-man switch (Healthchecks pings)", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
