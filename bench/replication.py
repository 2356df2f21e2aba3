"""Litestream replication under a burst of missed calls: the real `textback run`, the real
`textback backup run` (which becomes `litestream replicate`), the live pty simulator, and a file
replica or an sftp one on a real sshd started here.

    python bench/replication.py [--calls 100] [--seconds 300] [--scheme file|sftp]

writes its section of bench/RESULTS.md: replication lag (median, max) from a commit to the
moment a restore from the replica holds it, and what Litestream costs on this machine (its
memory and CPU, beside the daemon's). tests/test_backup.py uses the same harness (`Box`,
`Sshd`) for the SIGKILL test, without the timing.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import crash  # noqa: E402

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


def litestream_missing() -> str | None:
    """Why the real Litestream cannot run here, or None."""
    from gateway.box.litestream import BackupError, binary

    try:
        exe = binary()
    except BackupError as exc:
        return exc.message
    done = subprocess.run([exe, "version"], capture_output=True, text=True)
    return None if done.returncode == 0 else f"{exe} does not run: {done.stderr.strip()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """A real OpenSSH server on 127.0.0.1:<free port>, with a throwaway host key and one
    throwaway client key for the user running us; sftp through internal-sftp."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        self.port = free_port()
        self.user = __import__("getpass").getuser()
        for name in ("host", "client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"textback-{name}",
                            "-f", str(folder / name)], check=True)
        (folder / "authorized_keys").write_text((folder / "client.pub").read_text())
        (folder / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host'}",
            f"PidFile {folder / 'sshd.pid'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "StrictModes no", "UsePAM no",
            "Subsystem sftp internal-sftp", ""]))
        os.makedirs("/run/sshd", exist_ok=True) if os.geteuid() == 0 else None
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(folder / "sshd.log", "w"))
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sshd did not start: " + (folder / "sshd.log").read_text()[-500:])
            time.sleep(0.05)

    @property
    def host_key(self) -> str:
        return " ".join((self.folder / "host.pub").read_text().split()[:2])

    def credentials(self, path: Path, *, key: Path | None = None, host_key: str | None = None) -> Path:
        path.write_text(f'key_path = "{key or self.folder / "client"}"\n'
                        f'host_key = "{host_key or self.host_key}"\n')
        os.chmod(path, 0o600)
        return path

    def url(self, folder: Path) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{folder}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def add_backup(config: Path, url: str, credentials: Path | None = None,
               extra: str = "") -> None:
    text = config.read_text().split("\n[backup]")[0] + f'\n[backup]\nreplica = "{url}"\n'
    if credentials:
        text += f'credentials = "{credentials}"\n'
    config.write_text(text + extra)


class Replicator:
    """`textback backup run` as a subprocess: it checks, then becomes `litestream replicate`."""

    def __init__(self, config: Path, db: Path):
        self.log = open(db.with_name("backup.log"), "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "backup", "run", "--config", str(config), "--db",
             str(db)], cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=20)


def last_sync(db: Path) -> float | None:
    from gateway.box.litestream import last_sync as ask
    from gateway.box.litestream import socket_path

    return ask(socket_path(db))


def wait_until(done, timeout: float, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = done()
        if value:
            return value
        time.sleep(step)
    return None


def rows(db: Path, sql: str) -> list:
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# What counts as committed, with the time it was committed (the daemon's clock: wall time).
COMMITTED = {
    "calls": "SELECT key, ended_at FROM calls",
    "leads": "SELECT number, created_at FROM leads",
    "texts": "SELECT o.dedupe_key, o.sent_at FROM outbox o WHERE o.status = 'sent'",
}


def committed(db: Path) -> dict[str, dict[str, float]]:
    from gateway.app.store import epoch

    return {kind: {key: epoch(at) for key, at in rows(db, sql)} for kind, sql in COMMITTED.items()}


class Box:
    """One box: the simulated modem on a pty, `textback run` and `textback backup run` on it."""

    def __init__(self, folder: Path, *, calls: int, gap: float, url: str | None = None,
                 credentials: Path | None = None):
        from gateway.simulator.modem import SimulatedModem

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.db = folder / "textback.db"
        steps, self.plan = crash.burst(calls, gap)
        self.sim = SimulatedModem("sim800", steps=steps)
        self.config = crash.write_config(folder, self.sim.port_name)
        self.url = url or f"file://{folder / 'replica'}"
        add_backup(self.config, self.url, credentials)
        self.daemon = self.replicator = None

    def start(self) -> None:
        """The daemon first (it makes the database), then replication, then the calls. The sim
        answers from the start; its scenario clock stands before 0 until the calls begin."""
        began: list[float] = []
        self.sim.start(lambda: time.monotonic() - began[0] if began else -1.0)
        self.daemon = crash.Process(self.config, self.db)
        if self.daemon.wait_for(crash.READY, crash.READY_TIMEOUT) is None:
            raise RuntimeError("the daemon did not set up the modem: "
                               + "\n".join(line for _, line in self.daemon.log[-10:]))
        self.replicator = Replicator(self.config, self.db)
        if not wait_until(lambda: last_sync(self.db), 60):
            raise RuntimeError("Litestream never reported a sync: "
                               + self.db.with_name("backup.log").read_text()[-2000:])
        began.append(time.monotonic())

    def kill(self) -> float:
        """SIGKILL both, Litestream first: what it has not uploaded is lost with it."""
        at = time.time()
        self.replicator.kill()
        self.daemon.kill()
        return at

    def close(self) -> None:
        for proc in (self.replicator, self.daemon):
            if proc is not None and proc.proc.poll() is None:
                proc.proc.kill()
                proc.proc.wait(timeout=10)
        self.sim.close()


def restore_to(url: str, db: Path, credentials: Path | None = None, *,
               force: bool = False) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "cli.main", "restore", "--from", url, "--db", str(db)]
    args += ["--force"] if force else []
    if credentials:
        args += ["--credentials", str(credentials)]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items()
                               if k not in ("TEXTBACK_CONFIG", "TEXTBACK_DB")})


# -- the benchmark -----------------------------------------------------------------------------
def proc_stats(pid: int) -> tuple[float, int, int]:
    """(CPU seconds used, RSS now, peak RSS) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    kib = lambda key: int(status.get(key, "0 kB").split()[0])  # noqa: E731
    return cpu, kib("VmRSS") * 1024, kib("VmHWM") * 1024


def measure(folder: Path, *, calls: int, seconds: float, scheme: str) -> dict:
    """One run: lag per call (commit -> restorable from the replica), Litestream's and the
    daemon's CPU and memory over the run."""
    sshd = None
    try:
        url = creds = None
        if scheme == "sftp":
            sshd = Sshd(folder / "sshd")
            url = sshd.url(folder / "sftp-replica")
            creds = sshd.credentials(folder / "creds.toml")
        box = Box(folder / "box", calls=calls, gap=seconds / calls, url=url, credentials=creds)
        box.start()
        ls_pid, daemon_pid = box.replicator.proc.pid, box.daemon.proc.pid
        cpu0 = {pid: proc_stats(pid)[0] for pid in (ls_pid, daemon_pid)}
        t0 = time.monotonic()
        seen: dict[str, float] = {}     # call key -> wall time first seen committed locally
        landed: dict[str, float] = {}   # call key -> wall time first restorable from the replica
        stop = threading.Event()

        def watch_local():
            while not stop.is_set():
                for key, _ in rows(box.db, "SELECT key, ended_at FROM calls"):
                    seen.setdefault(key, time.time())
                time.sleep(0.05)

        threading.Thread(target=watch_local, daemon=True).start()
        probe = folder / "probe.db"
        failed = []
        while time.monotonic() - t0 < seconds + 20 and len(landed) < calls:
            done = restore_to(box.url, probe, creds, force=True)   # over the last probe
            for old in folder.glob("probe.db.before-restore-*"):
                old.unlink()
            now = time.time()
            if done.returncode == 0:
                for (key,) in rows(probe, "SELECT key FROM calls"):
                    landed.setdefault(key, now)
            else:
                failed.append(done.stderr.strip()[-300:])
            time.sleep(0.2)
        stop.set()
        elapsed = time.monotonic() - t0
        cpu1 = {pid: proc_stats(pid) for pid in (ls_pid, daemon_pid)}
        box.replicator.stop()
        box.daemon.stop()
        box.close()
        lags = sorted(landed[k] - seen[k] for k in landed if k in seen)
        if failed:
            print(f"{len(failed)} probe restores failed; the last: {failed[-1]}", file=sys.stderr)
        return {"scheme": scheme, "calls": calls, "landed": len(landed), "lags": lags,
                "elapsed": elapsed,
                "litestream_cpu": cpu1[ls_pid][0] - cpu0[ls_pid], "litestream_rss": cpu1[ls_pid][1],
                "litestream_peak": cpu1[ls_pid][2],
                "daemon_cpu": cpu1[daemon_pid][0] - cpu0[daemon_pid], "daemon_rss": cpu1[daemon_pid][1]}
    finally:
        if sshd:
            sshd.close()


def main() -> None:
    from results import machine, write_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--scheme", choices=("file", "sftp"), default="file")
    args = parser.parse_args()
    reason = litestream_missing()
    if reason:
        sys.exit(f"replication: {reason}")
    with tempfile.TemporaryDirectory(prefix="textback-replication-") as tmp:
        r = measure(Path(tmp), calls=args.calls, seconds=args.seconds, scheme=args.scheme)
    lags = r["lags"]
    median = lags[len(lags) // 2] if lags else float("nan")
    mib = 1024 * 1024
    lines = [
        f"`python bench/replication.py --calls {args.calls} --seconds {args.seconds:g} --scheme "
        f"{args.scheme}`: {r['calls']} missed calls in {args.seconds:g} s on the live pty "
        f"simulator, `textback run` and `textback backup run` (Litestream 0.5.17, sync interval "
        f"1 s) as processes, a {args.scheme} replica. Lag: from a call's row being committed "
        f"(seen by a reader polling every 50 ms) to a restore from the replica (polled every "
        f"0.2 s plus the restore's own time) holding it.",
        "",
        "| figure | value |", "| --- | --- |",
        f"| calls restorable from the replica | {r['landed']} of {r['calls']} |",
        f"| replication lag, median | {median:.2f} s |",
        f"| replication lag, max | {max(lags) if lags else float('nan'):.2f} s |",
        f"| Litestream CPU over the run | {r['litestream_cpu']:.2f} s in {r['elapsed']:.0f} s "
        f"({100 * r['litestream_cpu'] / r['elapsed']:.2f} % of one core) |",
        f"| Litestream memory (RSS at the end / peak) | {r['litestream_rss'] / mib:.1f} / "
        f"{r['litestream_peak'] / mib:.1f} MiB |",
        f"| the daemon, for scale: CPU, RSS | {r['daemon_cpu']:.2f} s, "
        f"{r['daemon_rss'] / mib:.1f} MiB |",
    ]
    lines.insert(1, f"\n{machine()}.")
    write_section(f"replication-{args.scheme}", f"Replication with Litestream ({args.scheme} "
                  "replica)", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
