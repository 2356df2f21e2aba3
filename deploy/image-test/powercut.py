"""Power-cut test: SIGKILL of qemu (the guest loses RAM and page cache) while the daemon inside it
texts back a burst of missed calls played by the simulator on the host, the independent witness.

Called by `deploy/image-test/powercut`, which builds $WORK/{root.ext4, boot.vfat, vmlinuz,
initrd.img}. Each boot: qemu with the guest's ttyS1 on a unix socket, relayed both ways to the
pty of one `SimulatedModem` that lives across boots (its missed-calls list "MC" too). The sim's clock
runs only while the guest is up (from the daemon's last set-up command until a little after a cut,
paused between calls), so the burst is spent on live daemons, not on 60 s boots.

After each cut, before the next boot, the disk is read as it is (a copy, its ext4 journal replayed,
`debugfs dump`, never mounted) and checked: every text the sim had received has its outbox row
'sending' or 'sent' (committed before the modem saw a byte, so it must survive the cut), and
`PRAGMA integrity_check` is ok. At the end a clean boot finishes the burst, the guest powers off
(`systemctl poweroff`, on a byte sent to its ttyS2), and the final database is judged as
bench/crash.py judges it.
"""
from __future__ import annotations

import argparse
import os
import random
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench import crash  # noqa: E402  (bench/crash.py: the same counting and simulator, another disk)
from bench.crash import judge  # noqa: E402

DB = "/var/lib/textback/textback.db"
READY = "AT+CNMI"          # the daemon's last set-up command before "modem ready" (modem.py)
CALL_LENGTH = crash.CALL_LENGTH  # RING -> NO CARRIER
POST_CUT = 1.5             # sim seconds the world goes on after a cut (calls ring while down)
BOOT_TIMEOUT = 300.0       # qemu start -> daemon set up the modem (TCG boots take ~50-60 s)
MODES = (("uniform", 4), ("after_end", 3), ("after_cmgs", 3))   # name, weight
# Under TCG the daemon takes tens of ms, not one, from NO CARRIER to its commits: a wider aim than crash.py's.
AIM = {"after_end": 0.4, "after_cmgs": 0.05}


class Clock:
    """Sim seconds that run only while resumed."""

    def __init__(self):
        self._base, self._since, self._lock = 0.0, None, threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._base + (time.monotonic() - self._since if self._since is not None else 0.0)

    def resume(self) -> None:
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()

    def pause(self) -> None:
        with self._lock:
            if self._since is not None:
                self._base += time.monotonic() - self._since
                self._since = None


class WatchedSim(crash.WatchedSim):
    """bench/crash.py's simulator (events for NO CARRIER and AT+CMGS, the moments worth cutting
    at), which also says when the daemon has set the modem up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ready = threading.Event()

    def saw(self, seen: bytes) -> None:
        super().saw(seen)
        if READY.encode() in seen:
            self.ready.set()


class Relay:
    """Bytes both ways between the sim's pty and qemu's socket; with no guest, to no one."""

    def __init__(self, port_name: str):
        import tty
        self.pty = os.open(port_name, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.pty)
        self.sock: socket.socket | None = None
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True, name="relay").start()

    def attach(self, path: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(path))
                s.setblocking(False)
                self.sock = s
                return
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def detach(self) -> None:
        s, self.sock = self.sock, None
        if s is not None:
            s.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            s = self.sock
            fds = [self.pty] + ([s] if s is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], 0.05)
            except (OSError, ValueError):
                continue
            try:
                if self.pty in ready:
                    data = os.read(self.pty, 4096)
                    if s is not None:
                        s.sendall(data)       # else dropped: a UART with nobody listening
                if s is not None and s in ready:
                    data = s.recv(4096)
                    if data:
                        os.write(self.pty, data)
                    elif self.sock is s:
                        self.sock = None
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                if self.sock is s:
                    self.sock = None

    def close(self) -> None:
        self._stop.set()
        self.detach()


def judge_inbound(report: Report, steps, sim: WatchedSim, db: Path) -> None:
    """Every reply the modem received is recorded once, and deleted from the SIM."""
    sent = sum(1 for step in steps if step.sms is not None)
    stored = query(db, "SELECT count(*), count(DISTINCT dedupe_key) FROM messages "
                       "WHERE direction = 'in'")[0]
    report.inbound = (f"{stored[0]} of {sent} reply texts recorded ({stored[1]} distinct), "
                      f"{len(sim.inbox)} left in the SIM")
    if stored[0] != sent or stored[1] != stored[0]:
        report.problems.append(f"replies: {report.inbound}")


def quiet_moment(plan, after: float) -> float:
    """The first sim time >= after with no call ringing (so no call straddles a pause)."""
    t = after
    for _, start in plan:
        if start - 0.1 <= t <= start + CALL_LENGTH + 0.1:
            t = start + CALL_LENGTH + 0.1
    return t


class Guest:
    def __init__(self, work: Path, n: int, relay: Relay):
        self.work, self.n = work, n
        self.sock, self.ctl = work / "modem.sock", work / "control.sock"
        for path in (self.sock, self.ctl):
            path.unlink(missing_ok=True)
        self.console = work / f"console-{n:02d}.log"
        self.started = time.monotonic()
        self.proc = subprocess.Popen([
            "qemu-system-x86_64", "-accel", "tcg", "-m", "1024", "-smp", "2", "-no-reboot",
            "-display", "none", "-nic", "none",
            "-kernel", str(work / "vmlinuz"), "-initrd", str(work / "initrd.img"),
            "-append", "root=LABEL=rootfs rw console=ttyS0 panic=-1 "
            + os.environ.get("GUEST_APPEND", ""),
            # cache=writeback (qemu's default): the guest's writes reach the host page cache, which
            # a SIGKILL of qemu does not lose; guest flushes (fsync) become host fdatasync.
            "-drive", f"file={work / 'root.ext4'},format=raw,if=virtio,cache=writeback",
            "-drive", f"file={work / 'boot.vfat'},format=raw,if=virtio,cache=writeback",
            "-chardev", f"file,id=con,path={self.console}", "-serial", "chardev:con",
            "-chardev", f"socket,id=modem,path={self.sock},server=on,wait=off",
            "-serial", "chardev:modem",
            # ttyS2: one byte powers the guest off (powercut-poweroff.service)
            "-chardev", f"socket,id=ctl,path={self.ctl},server=on,wait=off",
            "-serial", "chardev:ctl",
        ], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(work / "qemu.err", "a"))
        relay.attach(self.sock)

    def cut(self) -> None:
        self.proc.kill()          # SIGKILL: no flush, no shutdown; RAM and page cache are gone
        self.proc.wait(timeout=30)

    def power_off(self, timeout: float = 120.0) -> bool:
        """`systemctl poweroff` in the guest (powercut-poweroff.service); True if qemu exited."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(self.ctl))
        s.sendall(b"\n")
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            self.cut()
            return False
        finally:
            s.close()


def read_db(work: Path, name: str) -> tuple[Path | None, str]:
    """Copy the root image, replay its ext4 journal, dump the database (+ -wal): the disk as is."""
    snap, out = work / "snap.ext4", work / name
    out.mkdir(exist_ok=True)
    subprocess.run(["cp", "--sparse=always", str(work / "root.ext4"), str(snap)], check=True)
    fsck = subprocess.run(["e2fsck", "-y", "-E", "journal_only", str(snap)], capture_output=True)
    note = f"e2fsck -E journal_only exit {fsck.returncode}"
    found = None
    for suffix in ("", "-wal"):
        dest = out / f"textback.db{suffix}"
        subprocess.run(["debugfs", "-R", f"dump {DB}{suffix} {dest}", str(snap)],
                       capture_output=True)
        if dest.exists() and dest.stat().st_size > 0:
            if not suffix:
                found = dest
            note += f"; {dest.name} {dest.stat().st_size} B"
        else:
            dest.unlink(missing_ok=True)
    snap.unlink()
    return found, note


def query(db: Path, sql: str, params=()) -> list:
    con = sqlite3.connect(db, timeout=5)    # read-write: sqlite replays the -wal beside it
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@dataclass
class Report:
    seed: int
    calls: int
    control: bool
    cuts: int = 0
    modes: Counter = field(default_factory=Counter)
    boots_s: list = field(default_factory=list)   # qemu start -> daemon set the modem up
    # (cut, mode, texts so far, rows missing, integrity)
    cut_checks: list = field(default_factory=list)
    lost_commits: list = field(default_factory=list)  # (cut, number, status on disk): FAILURE
    integrity: list = field(default_factory=list)     # not ok: FAILURE
    sending_at_cut: int = 0
    sending_numbers: list = field(default_factory=list)
    texted_once: int = 0
    texted_once_recovered: int = 0
    duplicates: int = 0
    reason_no_text: int = 0
    lost_recorded: list = field(default_factory=list)
    lost_unrecorded_alive: list = field(default_factory=list)
    rang_while_down: int = 0
    resent_after_crash: int = 0
    window_hits: int = 0
    inbound: str = ""
    clean_poweroff: bool = False
    problems: list = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def failures(self) -> list:
        unexplained = [] if self.duplicates <= self.resent_after_crash else [
            f"{self.duplicates} duplicates > resent_after_crash {self.resent_after_crash}"]
        # The simulator keeps every call in its missed-calls list, which the next start reads:
        # a call that rang while the guest was down and was never texted is lost, not excused.
        down = [f"{self.rang_while_down} call(s) rang while down and were never texted"] \
            if self.rang_while_down else []
        return (self.lost_commits + self.integrity + self.lost_recorded + self.lost_unrecorded_alive
                + down + unexplained + self.problems)


def check_cut(report: Report, work: Path, sim: WatchedSim, mode: str, say) -> None:
    """THE power-cut property: each text the modem took has its committed outbox row on the disk."""
    db, note = read_db(work, f"cut-{report.cuts:02d}")
    with sim._lock:
        texted = Counter(s.number for s in sim.sent)
    if db is None:
        missing = sorted(texted)
        report.lost_commits += [(report.cuts, n, "no database") for n in missing]
        say(f"  cut {report.cuts}: no database on disk ({note})")
        return
    status = {}
    for number, st in query(db, "SELECT m.number, o.status FROM outbox o JOIN messages m "
                                "ON m.id = o.message_id WHERE m.direction = 'out'"):
        status[number] = st if status.get(number) != "sent" else "sent"
    missing = [(report.cuts, n, status.get(n, "no row")) for n in sorted(texted)
               if status.get(n) not in ("sending", "sent")]
    report.lost_commits += missing
    sending = [n for n, st in status.items() if st == "sending"]
    report.sending_at_cut += bool(sending)
    report.sending_numbers += sending
    ok = query(db, "PRAGMA integrity_check")[0][0]
    if ok != "ok":
        report.integrity.append(f"cut {report.cuts}: integrity_check {ok}")
    report.cut_checks.append((report.cuts, mode, sum(texted.values()), len(missing), ok))
    say(f"  cut {report.cuts} ({mode}): sim holds {sum(texted.values())} texts to "
        f"{len(texted)} numbers; "
        f"on disk without a 'sending'/'sent' row: {len(missing)}; {len(sending)} row(s) 'sending'; "
        f"integrity {ok}; {note}")


def run(args, say) -> Report:
    work = Path(args.work)
    rng = random.Random(args.seed)
    report = Report(seed=args.seed, calls=args.calls, control=args.control)
    steps, plan = crash.burst(args.calls, args.gap, first=3000, start=1.0, reply_every=10)
    last_end = plan[-1][1] + CALL_LENGTH
    clock = Clock()
    sim = WatchedSim("sim800", steps=steps)
    sim.start(clock.now)
    relay = Relay(sim.port_name)
    budget = max(1.0, last_end / max(1, args.cuts))   # mean sim seconds a guest lives
    alive: list[tuple[float, float]] = []
    began = time.monotonic()
    guest = None
    try:
        for n in range(args.cuts + 1):
            sim.ready.clear()
            guest = Guest(work, n, relay)
            if not sim.ready.wait(BOOT_TIMEOUT):
                report.problems.append(f"boot {n}: the daemon did not set the modem up in "
                                       f"{BOOT_TIMEOUT:.0f} s "
                                       f"(console {guest.console.name})")
                break
            report.boots_s.append(time.monotonic() - guest.started)
            ready_t = clock.now()
            clock.resume()
            final = report.cuts >= args.cuts or clock.now() >= last_end
            if final:
                break
            mode = crash.pick(rng, MODES)
            crash.aim(rng, mode, budget, sim.ended if mode == "after_end" else sim.cmgs,
                      timeout=2 * budget + 2.0, spread=AIM.get(mode, 0.0))
            guest.cut()
            cut_at = clock.now()
            relay.detach()
            alive.append((ready_t, cut_at))
            report.cuts += 1
            report.modes[mode] += 1
            # The world goes on a moment (calls ring while the guest is down), then waits.
            resume_until = quiet_moment(plan, cut_at + POST_CUT)
            while clock.now() < resume_until:
                time.sleep(0.02)
            clock.pause()
            say(f"cut {report.cuts:2d} {mode:10s} at sim t={cut_at:6.2f} s after "
                f"{cut_at - ready_t:5.2f} s up "
                f"(boot {report.boots_s[-1]:.0f} s)")
            check_cut(report, work, sim, mode, say)
        if not report.problems:
            texted = lambda: {s.number for s in sim.sent}  # noqa: E731
            deadline = time.monotonic() + last_end + 300
            last_count, quiet_since = -1, time.monotonic()
            while time.monotonic() < deadline:
                with sim._lock:
                    count = len(sim.sent)
                if count != last_count:
                    last_count, quiet_since = count, time.monotonic()
                done = clock.now() > last_end + 2 and len(texted()) == len(plan)
                quiet = time.monotonic() - quiet_since
                if (done and quiet > 10) or quiet > 90:
                    break
                time.sleep(0.5)
            alive.append((ready_t, clock.now()))
            say(f"final boot: {len(texted())} of {len(plan)} callers texted; systemctl poweroff")
            report.clean_poweroff = guest.power_off()
            relay.detach()
            guest = None
            db, note = read_db(work, "final")
            say(f"final database: {note}; clean poweroff {report.clean_poweroff}")
            if db is None:
                report.problems.append("no database on the final disk")
            else:
                judge(report, plan, sim, db, alive, read=query, call_length=CALL_LENGTH)
                judge_inbound(report, steps, sim, db)
    finally:
        if guest is not None and guest.proc.poll() is None:
            guest.cut()
        relay.close()
        sim.close()
    report.wall_s = time.monotonic() - began
    return report


def summary(r: Report) -> str:
    boots = sorted(r.boots_s)
    return "\n".join([
        f"seed {r.seed}{' CONTROL (guest store synchronous=OFF)' if r.control else ''}: "
        f"{r.cuts} power cuts "
        f"({dict(r.modes)}), {r.calls} calls, {len(boots)} boots (qemu start -> modem set up: "
        f"min {boots[0] if boots else 0:.0f} s, "
        f"median {boots[len(boots) // 2] if boots else 0:.0f} s, "
        f"max {boots[-1] if boots else 0:.0f} s); {r.wall_s:.0f} s",
        f"(1) texts the modem took whose commit was lost at a cut: {len(r.lost_commits)}"
        + (f" {r.lost_commits[:8]}" if r.lost_commits else ""),
        f"(2) {r.texted_once} texted live, {r.texted_once_recovered} texted recovered, "
        f"{r.reason_no_text} reason recorded, {len(r.lost_recorded)} recorded-but-untexted, "
        f"{len(r.lost_unrecorded_alive)} unrecorded "
        f"while up, {r.rang_while_down} rang while down and never texted",
        f"(3) {r.duplicates} duplicate(s); resent_after_crash {r.resent_after_crash}; "
        f"cuts leaving a row "
        f"'sending' {r.sending_at_cut}, of whose numbers texted twice {r.window_hits}",
        "(4) integrity_check: "
        + ("ok at every cut and at the end" if not r.integrity else str(r.integrity)),
        f"inbound: {r.inbound}; clean final poweroff: {r.clean_poweroff}",
        f"problems: {r.problems or 'none'}",
        f"RESULT: {'FAIL' if r.failures else 'PASS'} ({len(r.failures)} failure(s))",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True)
    parser.add_argument("--cuts", type=int, default=10)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--gap", type=float, default=2.5, help="sim seconds between calls")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--control", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(10**6)
    start = time.monotonic()
    def say(text: str) -> None:
        print(f"powercut [{time.monotonic() - start:5.0f}s] {text}", flush=True)
    say(f"seed {args.seed}, {args.cuts} cuts, {args.calls} calls {args.gap:g} s apart"
        f"{', CONTROL' if args.control else ''}")
    report = run(args, say)
    print(summary(report), flush=True)
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
