"""First boot from the card: apply the installer's textback.toml from the FAT boot partition.

The installer writes `textback.toml` (and optionally a `textback-templates/` folder) onto the
card's boot partition on any laptop. At boot, `textback-firstboot.service` runs `main()`:

1. stage a copy in a temporary folder with the box's templates overlaid by the card's, and check
   it as `textback config check` does (gateway.box.card, shared with `textback image customize`);
   Notepad's BOM and CRLF are fine (gateway.textfile);
2. a bad file is refused: nothing in /etc/textback changes, the file on the card is left as it
   is for the installer to fix, and `textback-status.txt` says which file, which key, what to do;
3. a good one is installed to /etc/textback/textback.toml (0640 root:textback when the group
   exists, else 0600; UTF-8 with LF line ends) and /etc/textback/templates, each by temp file +
   rename, so a power cut leaves the old state or the new one;
4. the card's copy is renamed `textback.toml.applied` with its secrets blanked. Renaming, rather
   than blanking in place, is what makes this idempotent: a blanked `textback.toml` left in place
   would be applied again at the next boot and install a config without its SIM PIN. With the
   rename, the unit's ConditionPathExists= is false on later boots, and an installer re-provisions
   a box by putting a new textback.toml on the card. A power cut before the rename applies the
   same file again, which gives the same result.
5. the report also goes to /var/lib/textback/card-status.txt, which `textback status` reads: a
   refused card, or one that could not be written (read-only), needs the owner's eye there too.
   The unit counts a refusal (exit 2) as success, so a bad card never leaves the system degraded.

Everything is relative to `root` (tests use a temporary tree) and takes `now` as a parameter.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from gateway.box import card
from gateway.box.card import CONFIG_NAME, TEMPLATES_FOLDER, TEMPLATES_NAME
from gateway.errors import ConfigError

BOOT = Path("/boot/firmware")   # Raspberry Pi OS Bookworm and later mount the FAT partition here
# Windows hides known extensions, so "textback.toml" saved by Notepad may be textback.toml.txt.
SOURCE_NAMES = ("textback.toml", "textback.toml.txt")
NEAR_NAMES = "textback*.toml"   # lower case; also with .txt
APPLIED_NAME = "textback.toml.applied"
STATUS_NAME = "textback-status.txt"
ETC = Path("etc/textback")
# The service's state folder (the lead database's): the last card's report, for `textback status`.
STATE = Path("var/lib/textback")
CARD_STATUS_NAME = "card-status.txt"
GROUP = "textback"
# Keys whose values must not stay on a FAT partition (no permissions: anyone holding the card reads
# it): the SIM PIN/PUK and any password, passphrase, token or key a later section may add.
SECRET_KEY = re.compile(r"(pin|puk|password|passphrase|psk|secret|token|(.*_)?key)")
HEADER_MARK = "#| "  # marks the lines we put at the top of textback.toml.applied
BLANKED = '""  # removed from the card once applied; the box keeps it in /etc/textback'

TABLE_LINE = re.compile(r"\s*\[\[?\s*([^\]]*?)\s*\]\]?\s*(#.*)?$")
ASSIGN_LINE = re.compile(r"(\s*)([A-Za-z0-9_\-.\"' ]+?)(\s*=\s*)(.*)$")


@dataclass(frozen=True)
class Paths:
    root: Path
    boot: Path          # the FAT partition, already under root

    @classmethod
    def under(cls, root: Path = Path("/"), boot: Path = BOOT) -> "Paths":
        root = Path(root)
        return cls(root=root, boot=root / Path(boot).relative_to(Path(boot).anchor))

    @property
    def etc(self) -> Path:
        return self.root / ETC

    @property
    def state(self) -> Path:
        return self.root / STATE


@dataclass(frozen=True)
class Outcome:
    result: str                  # "applied", "refused", "nothing" (no file on the card)
    report: str = ""             # what textback-status.txt says ("" when nothing was done)
    warnings: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return {"applied": 0, "nothing": 0, "refused": 2}[self.result]


def find_source(paths: Paths) -> Path | None:
    for name in SOURCE_NAMES:
        if (paths.boot / name).is_file():
            return paths.boot / name
    return None


def misnamed(paths: Paths) -> list[Path]:
    """Settings files under another name: a browser saves a second download as
    "textback (1).toml", an installer may keep "textback-acme.toml". Not applied, but reported,
    so that the installer learns why nothing happened (the unit's ConditionPathExistsGlob=)."""
    if not paths.boot.is_dir():
        return []
    return sorted(p for p in paths.boot.iterdir()
                  if fnmatch.fnmatch(p.name.lower(), NEAR_NAMES) and p.is_file()
                  or fnmatch.fnmatch(p.name.lower(), NEAR_NAMES + ".txt") and p.is_file())


def apply(paths: Paths, now: datetime) -> Outcome:
    """Validate and install the card's textback.toml; write the status file; see the module doc."""
    from gateway.render import default_templates_dir

    _recover_templates(paths.etc)
    source = find_source(paths)
    gid = group_id(paths.root, GROUP)
    if source is None:
        near = misnamed(paths)
        if not near:
            return Outcome("nothing")
        names = ", ".join(p.name for p in near)
        exc = ConfigError(
            "not named textback.toml, so it was not read",
            path=f"{names} (on the card)",
            hint="rename it to textback.toml (and delete any other copy)",
        )
        report = refused_report(exc, had_config=(paths.etc / CONFIG_NAME).is_file(), now=now)
        report += _tell_card(paths, report)
        _tell_box(paths, report, gid)
        return Outcome("refused", report)
    installed = paths.etc / TEMPLATES_NAME
    base = installed if installed.is_dir() else default_templates_dir()
    with tempfile.TemporaryDirectory(prefix="textback-firstboot-") as tmp:
        staged = card.stage(Path(tmp), source.read_bytes(), f"{source.name} (on the card)", base,
                            paths.boot / TEMPLATES_FOLDER)
        try:
            warnings = card.check(staged)
        except ConfigError as exc:
            report = refused_report(exc, had_config=(paths.etc / CONFIG_NAME).is_file(), now=now)
            report += _tell_card(paths, report)
            _tell_box(paths, report, gid)
            return Outcome("refused", report)
        text = staged.text()
        if not paths.etc.is_dir():   # the postinst makes it; 0755 whatever the umask
            paths.etc.mkdir(parents=True)
            os.chmod(paths.etc, 0o755)
        _write_atomic(paths.etc / CONFIG_NAME, text.encode("utf-8"),
                      0o640 if gid is not None else 0o600, gid)
        _install_templates(staged.templates, paths.etc / TEMPLATES_NAME)
    problem = ""
    try:
        _write_atomic(paths.boot / APPLIED_NAME, _dos(applied_copy(text, now)), 0o644)
        source.unlink()
    except OSError as exc:
        problem = _card_unwritable(exc)
        warnings.append(problem.strip())
    report = applied_report(text, source.name, staged.from_card(), warnings, gid is not None, now,
                            renamed=not problem)
    if not problem:
        report += _tell_card(paths, report)
    _tell_box(paths, report, gid)
    return Outcome("applied", report, tuple(warnings))


def _card_unwritable(exc: OSError) -> str:
    return (f"The card could not be written ({exc.strerror}): textback.toml stays on it, with its "
            f"secrets, and is applied again at every boot. On a laptop, check the card (a "
            f"read-only or damaged FAT partition), then delete textback.toml from it.\n")


def _tell_card(paths: Paths, report: str) -> str:
    """Write textback-status.txt on the card; "" when done, else what went wrong (for the box)."""
    try:
        _write_atomic(paths.boot / STATUS_NAME, _dos(report), 0o644)
    except OSError as exc:
        return "\n" + _card_unwritable(exc).replace(
            "textback.toml stays on it, with its secrets, and is applied again at every boot",
            "this report is not on it")
    return ""


def _tell_box(paths: Paths, report: str, gid: int | None) -> None:
    """The same report for `textback status` (group textback may read it: the owner)."""
    try:
        paths.state.mkdir(parents=True, exist_ok=True)
        _write_atomic(paths.state / CARD_STATUS_NAME, report.encode("utf-8"),
                      0o640 if gid is not None else 0o600, gid)
    except OSError as exc:
        print(f"textback-firstboot: cannot write {paths.state / CARD_STATUS_NAME}: {exc.strerror}",
              file=sys.stderr)


# -- the secrets --------------------------------------------------------------------------------
def scrub(text: str) -> str:
    """The TOML text with every secret value blanked, comments and layout kept."""
    table: list[str] = []
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        if match := TABLE_LINE.match(body):
            table = _key_path(match[1])
        elif (match := ASSIGN_LINE.match(body)) and _is_secret(table + _key_path(match[2])):
            if _value_of(match[4]) not in ("", None):
                body = f"{match[1]}{match[2]}{match[3]}{BLANKED}"
        out.append(body + ending)
    return "".join(out)


def _key_path(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


def _is_secret(path: list[str]) -> bool:
    return bool(path) and SECRET_KEY.fullmatch(path[-1].lower()) is not None


def _value_of(rest: str):
    try:
        return tomllib.loads(f"v = {rest}")["v"]
    except tomllib.TOMLDecodeError:
        return None   # a value spread over lines: blank it


def secrets_left(text: str) -> list[str]:
    """Dotted keys that still hold a secret (empty when the text is safe to leave on the card)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return ["(unparsed)"]
    found = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [key])
        elif isinstance(node, list):
            for value in node:
                walk(value, path)
        elif _is_secret(path) and node not in ("", None):
            found.append(".".join(path))
    walk(data, [])
    return found


def applied_copy(text: str, now: datetime) -> str:
    """What stays on the card: the applied file, secrets blanked, with a header saying so."""
    kept = text.splitlines(keepends=True)
    while kept and kept[0].startswith(HEADER_MARK):   # a re-applied .applied file: one header
        kept.pop(0)
    scrubbed = scrub("".join(kept))
    header = (f"{HEADER_MARK}Applied by textback on {_when(now)} and installed as "
              f"/etc/textback/textback.toml.\n"
              f"{HEADER_MARK}Secrets (the SIM PIN, any password) were removed from this copy: "
              f"anyone holding the card can read it.\n"
              f"{HEADER_MARK}To change the settings: edit this file, put the secrets back, and "
              f"save it as textback.toml.\n")
    if secrets_left(scrubbed):
        # A layout the line rewrite does not know (an inline table, a multi-line value): keep
        # nothing rather than leave a secret behind.
        return header + "# The settings are not repeated here: they held secrets that could not " \
                        "be removed line by line.\n"
    return header + scrubbed


# -- the status file ----------------------------------------------------------------------------
def _when(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _clock_note(now: datetime) -> str:
    # A Pi has no battery clock: until it reaches a time server it runs on the last saved time.
    return f"When:      {_when(now)} (the Pi's clock; it may be off before it reaches the network)"


def applied_report(text: str, source_name: str, from_card: list[str], warnings: list[str],
                   shared: bool, now: datetime, *, renamed: bool = True) -> str:
    data = tomllib.loads(text)
    business, modem = data.get("business", {}), data.get("modem", {})
    pin = "SIM PIN set" if modem.get("pin") else "no SIM PIN"
    lines = [
        "textback: settings APPLIED",
        _clock_note(now),
        f"From:      {source_name} on this card, " + (
            f"now renamed {APPLIED_NAME} (secrets removed)" if renamed else
            "left as it was: the card could not be written"),
        f"Installed: /etc/textback/textback.toml "
        f"({'readable by group textback' if shared else 'root only: no textback group yet'})",
        "Templates: " + (f"{', '.join(from_card)} from {TEMPLATES_FOLDER}/, the others kept"
                         if from_card else "none on the card; the box's own are kept"),
        f"Business:  {business.get('name', '')} (owner {business.get('owner', '')}), "
        f"time zone {business.get('timezone', '')}",
        f"Modem:     port {modem.get('port', '')}, family {modem.get('family', 'auto')}, {pin}",
    ]
    if warnings:
        lines += ["Warnings (the settings work, but):"] + [f"  - {w}" for w in warnings]
    lines += ["", "textback starts with these settings now. To change them later, put a new "
                  "textback.toml on this card and power the Pi on again."]
    return "\n".join(lines) + "\n"


def refused_report(exc: ConfigError, *, had_config: bool, now: datetime) -> str:
    """`exc` names the card's files (gateway.box.card.check)."""
    where = ": ".join(p for p in (exc.path, exc.key) if p)
    what = exc.message.removeprefix(f"{where}: ") if where else exc.message
    shown = exc.path or "textback.toml (on the card)"
    kept = ("The box keeps its previous settings: /etc/textback/textback.toml was not changed."
            if had_config else
            "The box has no settings yet, so textback will not start until this is fixed.")
    lines = ["textback: settings REFUSED, nothing was changed", _clock_note(now),
             f"File:      {shown}"]
    if exc.key:
        lines.append(f"Key:       {exc.key}")
    lines += [f"Problem:   {what}"]
    if exc.hint:
        lines.append(f"Fix:       {exc.hint}")
    lines += ["", kept, "Fix the file on this card, put the card back in the Pi and power it on "
                        "again: the file is checked at every boot until it is applied."]
    return "\n".join(lines) + "\n"


def _dos(text: str) -> bytes:
    # CRLF: the installer reads these on any laptop, old Windows Notepad included.
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


# -- files --------------------------------------------------------------------------------------
def group_id(root: Path, name: str) -> int | None:
    """The gid of group `name` in root/etc/group (the target system's, not necessarily ours)."""
    try:
        lines = (root / "etc/group").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    return None


def _write_atomic(path: Path, data: bytes, mode: int, gid: int | None = None) -> None:
    """Temp file, fsync, owner and mode, rename, fsync the folder: the old content or the new.

    The temp file is made new (O_EXCL, O_NOFOLLOW) and changed through its descriptor: root writes
    into /var/lib/textback, which group textback may write, so a planted symlink must not be
    followed."""
    tmp = path.with_name(path.name + ".new")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
        if gid is not None:
            os.fchown(out.fileno(), -1, gid)
        os.fchmod(out.fileno(), mode)
    os.replace(tmp, path)
    _sync_dir(path.parent)


def _sync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass   # FAT (vfat) may refuse fsync on a directory; the file itself was synced
    finally:
        os.close(fd)


def _install_templates(staged: Path, target: Path) -> None:
    new, old = target.with_name(target.name + ".new"), target.with_name(target.name + ".old")
    shutil.rmtree(new, ignore_errors=True)
    shutil.copytree(staged, new)
    # Modes set, not copied: the staged folder is private (the unit's UMask=0077), and the daemon
    # (user textback) must list the folder and read every template.
    os.chmod(new, 0o755)
    for path in new.iterdir():
        os.chmod(path, 0o644)
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    new.rename(target)
    _sync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def _recover_templates(etc: Path) -> None:
    """A power cut between the two renames of _install_templates: put the old folder back."""
    target, old = etc / TEMPLATES_NAME, etc / (TEMPLATES_NAME + ".old")
    if old.is_dir() and not target.exists():
        old.rename(target)


# -- the command --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """textback-firstboot [--root DIR] [--boot DIR]: exit 0 applied or nothing to do, 2 refused."""
    parser = argparse.ArgumentParser(prog="textback-firstboot",
                                     description="Apply textback.toml from the boot partition.")
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="the system's root folder (default /; tests use a temporary tree)")
    parser.add_argument("--boot", type=Path, default=BOOT,
                        help=f"the FAT boot partition, under --root (default {BOOT})")
    args = parser.parse_args(argv)
    outcome = apply(Paths.under(args.root, args.boot), datetime.now(timezone.utc))
    if outcome.result == "nothing":
        print(f"textback-firstboot: no {SOURCE_NAMES[0]} on {args.boot}: nothing to apply")
    else:
        # journald keeps this too; the first line says applied or refused.
        sys.stdout.write(outcome.report)
    sys.exit(outcome.exit_code)


if __name__ == "__main__":
    main()
