"""`textback init`: a commented starter config and the default templates, ready to edit.

The business values are the demo's (Acme Plumbing, Austin TX), so `textback demo` and
`textback replay` run on exactly what `textback init` writes.
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from gateway.errors import ConfigError

CONFIG_NAME = "textback.toml"
TEMPLATES_DIR = "templates"

STARTER_TOML = '''\
# textback configuration. Check it with: textback config check

[business]
name = "Acme Plumbing"          # your business name, as texts say it ($company)
owner = "Mike"                  # who callers deal with, first name is fine ($owner)
phone = "+15125550100"          # the business number (the SIM's); "" if you would rather not say
owner_phone = "+15125550199"    # your own cell, for alerts; "" for none
timezone = "America/Chicago"    # IANA time zone name, for opening hours and the daily cap
region = "US"                   # country for numbers written without +country code (ISO 3166)
booking_url = ""                # your online booking page, for templates that say $booking_link

[hours]                         # "HH:MM-HH:MM" or "closed"; a missing day is closed
mon = "07:00-17:00"
tue = "07:00-17:00"
wed = "07:00-17:00"
thu = "07:00-17:00"
fri = "07:00-17:00"
sat = "08:00-12:00"
sun = "closed"

[modem]
port = "sim"                    # the modem's port (/dev/ttyUSB2, /dev/textback-modem) or "sim"
baudrate = 115200               # serial speed; 115200 suits nearly every USB modem
family = "auto"                 # modem family; "auto" detects it
pin = ""                        # SIM PIN, if the SIM asks for one (then: chmod 600 this file;
                                # on a box: chgrp textback, chmod 640, as /etc/textback's is)
scenario = ""                   # port = "sim" only: a replay scenario to play; "" = the demo

[policy]
cooldown_hours = 24             # a caller is texted at most once per this many hours
delay_seconds = 0               # wait this long after a missed call before texting
daily_cap = 200                 # at most this many automatic texts a day (carriers flag more)
blocklist = []                  # numbers never texted, like ["+15125550123"]
contacts = []                   # friends and suppliers: never texted
text_rejected = true            # text callers whose call you declined
text_unknown = true             # text callers whose call ended unclearly
min_rings = 1                   # calls that rang fewer times are not texted (2 ignores misdials)

# [phone]                       # port = "android": your own phone is the modem (README)
# password = ""                 # SMSGate's local server password (the app shows it)
# calls_password = ""           # CallGate's password
# signing_key = ""              # the webhook signing key set in both apps
# adb = true                    # over USB: adb forward/reverse (false: LAN, set url_sms/url_calls)
# photo_max_mb = 5              # pictures leads send are kept beside the database up to this size

[owner]                         # what textback tells you, on business.owner_phone
alerts = true                   # forward each reply from a lead, tagged #12; answer "#12 your text"
alerts_batch_minutes = 0        # quiet alerts: gather them into one text every N minutes; 0 = at once
follow_up = true                # one follow-up to a lead who never answered (follow_up.txt)
follow_up_after_hours = 0       # 0 = the next business morning; else this many hours later
digest = true                   # a morning text: yesterday's missed calls and who waits for you
digest_at = "07:30"             # when the digest goes out (business time zone)

[reviews]                       # "textback done 12" (or "#12 done") asks for a review
url = ""                        # your Google review link ($review_link); "" = no review requests

[templates]
dir = "templates"               # folder of message templates, next to this file

[store]
database = "textback.db"        # the lead database, next to this file

[log]
level = "INFO"                  # DEBUG, INFO, WARNING or ERROR

[backup]                        # the leads copied off the box (README: Knowing the box is alive)
replica = ""                    # "file:///media/usb/textback", "sftp://user@host/path", "s3://bucket/path"
credentials = ""                # sftp and s3: a file only you can read with the keys (README)
sync_interval = 1               # seconds between copies to the replica

[health]                        # a dead-man switch: Healthchecks (hosted or self-hosted)
ping_url = ""                   # "https://hc-ping.com/<uuid>"; "" = none (a secret, as the PIN)
ping_every = 300                # seconds between pings while all is well (10 or more)
fail_after = 600                # a modem or phone silent this long is reported (10 or more)

[metrics]                       # for Prometheus, through node_exporter's textfile collector
textfile = ""                   # "/var/lib/prometheus/node-exporter/textback.prom"; "" = none

[selftest]                      # once a day the box texts its own number and expects it back
at = ""                         # "07:30" (business time); "" = off
'''


# The box's settings folder: the service reads it as group textback (deploy/README.md "Install").
BOX_DIR = Path("/etc/textback")
BOX_GROUP = "textback"


def write_starter(folder: Path, *, force: bool = False, now: datetime | None = None,
                  kept: list[tuple[Path, Path]] | None = None) -> list[Path]:
    """Write folder/textback.toml (0600, or 0640 root:textback in the box's /etc/textback) and
    folder/templates/*.txt; return what was written, and add (old, kept as) to `kept` for each
    backup.

    Nothing is written when a target exists and `force` is false: ConfigError names the file. In
    /etc/textback, --force keeps the customer's files (textback.toml.bak-<when>, templates.bak-
    <when>) before writing: those settings came from a card or an installer, and the starter's
    port = "sim" would silently stop the box texting callers.
    """
    from gateway.render import default_templates_dir

    folder = Path(folder).expanduser()
    box = folder.resolve() == BOX_DIR
    defaults = sorted(default_templates_dir().glob("*.txt"))
    targets = [(folder / CONFIG_NAME, STARTER_TOML)]
    targets += [(folder / TEMPLATES_DIR / src.name, src.read_text(encoding="utf-8"))
                for src in defaults]
    if not force:
        for path, _ in targets:
            if path.exists():
                raise ConfigError(
                    "file exists already" + (": it holds this box's settings" if box else ""),
                    path=str(path),
                    hint=(f"edit it (sudo nano {folder / CONFIG_NAME}), then: sudo textback config "
                          f"check. To start over from the starter instead: sudo textback init "
                          f"--force (the old files are kept as *.bak-DATE)" if box else
                          "edit it, or pass --force to overwrite it"))
    gid = _group(BOX_GROUP) if box else None
    kept = [] if kept is None else kept
    try:
        if box:
            stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
            for name in (CONFIG_NAME, TEMPLATES_DIR):
                if (folder / name).exists():
                    backup = folder / f"{name}.bak-{stamp}"
                    os.rename(folder / name, backup)   # mode and group kept with the file
                    kept.append((folder / name, backup))
        for made in (folder, folder / TEMPLATES_DIR):
            if not made.is_dir():
                made.mkdir(parents=True)
                # whatever the umask: a box's must be read by the service (its wrapper sets
                # 0007); a personal one only by its owner (umask 000 made it 0777)
                os.chmod(made, 0o755 if box else 0o700)
        written = []
        for path, text in targets:
            _write(path, text, mode=(0o640 if gid is not None else 0o600)
                   if path.name == CONFIG_NAME else 0o644, gid=gid)
            written.append(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot write it: {exc.strerror}", path=str(exc.filename or folder),
            hint=("the box's settings belong to root: sudo textback init ..." if box else
                  "choose a folder you may write: textback init FOLDER")) from None
    return written


def _group(name: str) -> int | None:
    import grp

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _write(path: Path, text: str, *, mode: int, gid: int | None = None) -> None:
    # The config may hold a SIM PIN: create it private rather than chmod after the fact.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if mode != 0o644 else mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        if gid is not None:
            os.fchown(out.fileno(), -1, gid)
        os.fchmod(out.fileno(), mode)   # O_CREAT's mode is ignored for a file that existed
