"""`textback init`: a commented starter config and the default templates, ready to edit.

The business values are the demo's (Acme Plumbing, Austin TX), so `textback demo` and
`textback replay` run on exactly what `textback init` writes.
"""
from __future__ import annotations

import os
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
pin = ""                        # SIM PIN, if the SIM asks for one (then: chmod 600 this file)
scenario = ""                   # port = "sim" only: a replay scenario to play; "" = the demo

[policy]
cooldown_hours = 24             # a caller is texted at most once per this many hours
delay_seconds = 0               # wait this long after a missed call before texting
daily_cap = 400                 # at most this many texts a day (consumer plans cap near 500)
blocklist = []                  # numbers never texted, like ["+15125550123"]
contacts = []                   # friends and suppliers: never texted
text_rejected = true            # text callers whose call you declined
text_unknown = true             # text callers whose call ended unclearly

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

[templates]
dir = "templates"               # folder of message templates, next to this file

[store]
database = "textback.db"        # the lead database, next to this file

[log]
level = "INFO"                  # DEBUG, INFO, WARNING or ERROR
'''


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Write folder/textback.toml (mode 0600) and folder/templates/*.txt; return what was written.

    Nothing is written when a target exists and `force` is false: ConfigError names the file.
    """
    from gateway.render import default_templates_dir

    folder = Path(folder).expanduser()
    defaults = sorted(default_templates_dir().glob("*.txt"))
    targets = [(folder / CONFIG_NAME, STARTER_TOML)]
    targets += [(folder / TEMPLATES_DIR / src.name, src.read_text(encoding="utf-8"))
                for src in defaults]
    if not force:
        for path, _ in targets:
            if path.exists():
                raise ConfigError("file exists already", path=str(path),
                                  hint="edit it, or pass --force to overwrite it")
    written = []
    try:
        for made in (folder, folder / TEMPLATES_DIR):
            if not made.is_dir():
                made.mkdir(parents=True)
                made.chmod(0o700)   # whatever the umask (000 made it 0777: anyone could edit)
        for path, text in targets:
            _write(path, text, private=path.name == CONFIG_NAME)
            written.append(path)
    except OSError as exc:
        done = f" (written before it: {', '.join(str(p) for p in written)})" if written else ""
        raise ConfigError(f"cannot write {exc.filename or folder}: {exc.strerror}{done}",
                          hint="pick a folder you can write (textback init ~/textback), or make "
                               "the file writable") from None
    return written


def _write(path: Path, text: str, *, private: bool) -> None:
    # The config may hold a SIM PIN: create it 0600 rather than chmod after the fact.
    mode = 0o600 if private else 0o644
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, mode)  # O_CREAT's mode is ignored for a file that existed (--force)
