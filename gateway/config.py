"""The config file (docs/design.md, "Contract: configuration"): one TOML file, frozen dataclasses.

Every mistake is a ConfigError naming the file, the dotted key (`hours.mon`,
`policy.blocklist[2]`) and the fix. Relative paths resolve against the config file's folder.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.errors import ConfigError, TemplateError

if TYPE_CHECKING:
    from gateway.backup import BackupSettings

REQUIRED = object()
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Key:
    kind: str                   # a name in KINDS
    default: object = REQUIRED
    # A value nobody else may read: `config check` and `run` refuse or warn when others can read
    # the file, and first boot blanks it in the copy left on the card (SECRET_KEYS, one list).
    secret: bool = False


# What TOML type each kind accepts, and how to say so (bool is an int in Python: not a number).
KINDS = {
    "text": (lambda v: isinstance(v, str), "text in quotes", 'key = "value"'),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number",
            "key = 400 (no quotes)"),
    "number": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number",
               "key = 24 (no quotes)"),
    "bool": (lambda v: isinstance(v, bool), "true or false", "key = true (no quotes)"),
    "list": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
             "a list of numbers in quotes", 'key = ["+15125550142"]'),
}

SCHEMA: dict[str, dict[str, Key]] = {
    "business": {"name": Key("text"), "owner": Key("text"), "phone": Key("text", ""),
                 "owner_phone": Key("text", ""), "timezone": Key("text"),
                 "region": Key("text", "US"), "booking_url": Key("text", "")},
    "hours": {day: Key("text", "closed") for day in DAYS},
    "modem": {"port": Key("text"), "baudrate": Key("int", 115200), "family": Key("text", "auto"),
              "pin": Key("text", "", secret=True), "scenario": Key("text", "")},
    "policy": {"cooldown_hours": Key("number", 24), "delay_seconds": Key("number", 0),
               "daily_cap": Key("int", 200), "blocklist": Key("list", []),
               "contacts": Key("list", []), "text_rejected": Key("bool", True),
               "text_unknown": Key("bool", True), "min_rings": Key("int", 1)},
    "owner": {"alerts": Key("bool", True), "alerts_batch_minutes": Key("number", 0),
              "follow_up": Key("bool", True),
              "follow_up_after_hours": Key("number", 0), "digest": Key("bool", False),
              "digest_at": Key("text", "07:30")},
    "phone": {"url_sms": Key("text", "http://127.0.0.1:8080"),
              "url_calls": Key("text", "http://127.0.0.1:8084"), "username": Key("text", "sms"),
              "password": Key("text", "", secret=True), "calls_username": Key("text", "call"),
              "calls_password": Key("text", "", secret=True),
              "signing_key": Key("text", "", secret=True),
              "calls_signing_key": Key("text", "", secret=True),
              "listen_host": Key("text", "127.0.0.1"), "listen_port": Key("int", 8787),
              "webhook_url": Key("text", ""),
              "adb": Key("bool", True), "adb_serial": Key("text", ""),
              "call_timeout_seconds": Key("number", 90), "photo_max_mb": Key("number", 5)},
    "reviews": {"url": Key("text", "")},   # the link review.txt sends ($review_link)
    "templates": {"dir": Key("text", "templates")},
    "store": {"database": Key("text", "textback.db")},
    "log": {"level": Key("text", "INFO")},
    # Knowing the box is alive: gateway.backup, gateway.app.healthping, gateway.app.metrics,
    # gateway.app.selftest read these.
    "backup": {"replica": Key("text", ""), "credentials": Key("text", ""),
               "sync_interval": Key("number", 1)},
    "health": {"ping_url": Key("text", "", secret=True), "ping_every": Key("number", 300),
               "fail_after": Key("number", 600)},
    "metrics": {"textfile": Key("text", "")},
    "selftest": {"at": Key("text", "")},
}
# Every secret key, dotted ("modem.pin"), in the file's order.
SECRET_KEYS = tuple(f"{section}.{key}" for section, keys in SCHEMA.items()
                    for key, spec in keys.items() if spec.secret)

# "07:00-17:00"; an end of 24:00 means until midnight.
HOURS_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
END_OF_DAY = time.max
# 3GPP TS 22.030 clause 6.6.2 / TS 31.102: a PIN is 4 to 8 digits.
PIN_RE = re.compile(r"\d{4,8}")


@dataclass(frozen=True)
class Business:
    name: str
    owner: str
    phone: str | None        # E.164
    owner_phone: str | None  # E.164
    timezone: ZoneInfo
    region: str              # ISO 3166 alpha-2, upper case


@dataclass(frozen=True)
class ModemSettings:
    port: str                # a device path, or "sim"
    baudrate: int
    family: str              # "auto" or a name in gateway.at.families.FAMILIES
    pin: str
    scenario: Path | None    # port = "sim" only; None = the built-in demo


@dataclass(frozen=True)
class PolicySettings:
    cooldown: float          # seconds
    delay: float             # seconds
    daily_cap: int
    blocklist: frozenset[str]  # E.164
    contacts: frozenset[str]   # E.164
    text_rejected: bool
    text_unknown: bool
    min_rings: int = 1       # a call that rang fewer times is recorded, not texted


@dataclass(frozen=True)
class OwnerSettings:
    alerts: bool             # forward each reply (and repeat calls) to business.owner_phone
    alerts_batch: float      # seconds to gather alerts into one text; 0 = each at once
    follow_up: bool          # one follow-up to a lead who never answered
    follow_up_after: float | None  # seconds after the text-back; None = next business morning
    digest: bool             # the morning digest to business.owner_phone
    digest_at: time


@dataclass(frozen=True)
class PhoneSettings:
    """[phone]: the contractor's Android phone as the link (docs/reference/phone-apps.md). The
    last five are the phone link's timing and limits; the file sets lost_end
    (call_timeout_seconds) and photo_max_bytes (photo_max_mb), tests and the demo the others."""

    url_sms: str = "http://127.0.0.1:8080"     # SMSGate local server (default port 8080)
    url_calls: str = "http://127.0.0.1:8084"   # CallGate server (default port 8084)
    username: str = "sms"
    password: str = ""
    signing_key: str = ""
    listen_host: str = "127.0.0.1"
    listen_port: int = 8787                    # 0: any free port (tests)
    adb: bool = True                           # USB: adb forward/reverse on every connect
    calls_username: str = "call"
    calls_password: str = ""
    calls_signing_key: str = ""                # "" = the same key as SMSGate's
    adb_serial: str = ""
    webhook_url: str = ""                      # "" = http://127.0.0.1:<listen_port>/webhook
    # s a finished call waits for the late copies of its events (gateway.phone.callbook SETTLE)
    settle: float = 0.6
    lost_end: float = 90.0                     # s without call:ended: decided unknown (lost event)
    send_wait: float = 30.0                    # s to wait for Sent/Failed before a retry
    photo_max_bytes: int = 5_000_000           # a picture bigger than this is recorded, not kept
    health_every: float = 60.0                 # s between GET /health looks (battery, internet)


@dataclass(frozen=True)
class Config:
    path: Path
    business: Business
    hours: dict[int, tuple[time, time] | None]  # 0 = Monday; None = closed
    modem: ModemSettings
    policy: PolicySettings
    templates_dir: Path
    database: Path
    log_level: str
    owner: OwnerSettings
    phone: PhoneSettings | None = None   # when [modem] port = "android"
    # A digest of the file as loaded: the daemon tells the owner "textback is live" once per
    # new config (a newly provisioned box), without reading the file again.
    stamp: str = field(default="", compare=False)
    review_url: str = ""     # [reviews] url: $review_link; "" = no review requests
    booking_url: str = ""    # [business] booking_url: $booking_link
    # -- [backup], [health], [metrics], [selftest]: each None when its section is left out --
    backup: BackupSettings | None = None
    health: HealthSettings | None = None
    metrics: MetricsSettings | None = None
    selftest: SelftestSettings | None = None

    # The SECRET_KEYS this file sets (a value, not ""), whatever the port.
    secrets_set: tuple[str, ...] = field(default=(), compare=False)

    def secrets(self) -> list[str]:
        """The config keys set here that must not be readable by others."""
        return list(self.secrets_set)


def default_path() -> Path:
    """$TEXTBACK_CONFIG, else $XDG_CONFIG_HOME/textback/textback.toml (~/.config by default)."""
    if os.environ.get("TEXTBACK_CONFIG"):
        return Path(os.environ["TEXTBACK_CONFIG"]).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    # XDG Base Directory spec: a relative $XDG_CONFIG_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "textback" / "textback.toml"


def _suggest(word: str, known) -> str | None:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _read(path: Path) -> tuple[dict, bytes]:
    """The file's TOML and its bytes."""
    where = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        hint = (f"create one with: textback init {path.parent}" if path.name == "textback.toml"
                else "check the path; textback init FOLDER writes FOLDER/textback.toml")
        raise ConfigError("config file not found", path=where, hint=hint) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file ({exc.strerror})", path=where,
                          hint="check the path and its permissions") from None
    from gateway.textfile import NotText, decode

    try:
        return tomllib.loads(decode(data)), data
    except NotText as exc:
        raise ConfigError(exc.reason, path=where, hint=exc.hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where,
                          hint='fix the syntax at that line: key = "text", key = 24, '
                               'key = ["a", "b"], [section]') from None


def _checked(raw: dict, where: str) -> dict[str, dict[str, Any]]:
    """Sections and keys known, types right, required keys present; defaults filled in."""
    for section, body in raw.items():
        if section not in SCHEMA:
            hint = _suggest(section, SCHEMA) or f"sections are: {', '.join(SCHEMA)}"
            raise ConfigError(f"unknown section [{section}]", path=where, key=section, hint=hint)
        if not isinstance(body, dict):
            raise ConfigError("expected a [section] of keys", path=where, key=section,
                              hint=f"write [{section}] on its own line, then its keys")
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        body = raw.get(section, {})
        for key in body:
            if key not in keys:
                hint = _suggest(key, keys) or f"keys in [{section}]: {', '.join(keys)}"
                raise ConfigError(f"unknown key {key!r}", path=where, key=f"{section}.{key}",
                                  hint=hint)
        values[section] = {}
        for key, spec in keys.items():
            dotted = f"{section}.{key}"
            if key not in body:
                if spec.default is REQUIRED:
                    raise ConfigError("missing required key", path=where, key=dotted,
                                      hint=f"add it under [{section}]: {KINDS[spec.kind][2]}")
                values[section][key] = spec.default
                continue
            accepts, what, example = KINDS[spec.kind]
            if not accepts(body[key]):
                raise ConfigError(f"expected {what}, got {body[key]!r}", path=where, key=dotted,
                                  hint=f"write it as {example.replace('key', key, 1)}")
            values[section][key] = body[key]
    return values


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        from zoneinfo import available_timezones

        hint = _suggest(name, available_timezones()) or 'an IANA name such as "America/Chicago"'
        raise ConfigError(f"unknown time zone {name!r}", path=where, key="business.timezone",
                          hint=hint) from None


def _region(name: str, where: str) -> str:
    import phonenumbers

    region = name.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"unknown region {name!r}", path=where, key="business.region",
                          hint='a two-letter ISO 3166 country code such as "US", "GB", "CA"')
    return region


def _phone(raw: str, region: str, where: str, key: str) -> str:
    from gateway.numbers import normalize

    number = normalize(raw, None, region)
    if number is None:
        raise ConfigError(f"not a phone number: {raw!r}", path=where, key=key,
                          hint=f'write it in full, like "+15125550142" (or national for {region})')
    return number


def _hours(day: str, text: str, where: str) -> tuple[time, time] | None:
    if text.strip().lower() == "closed":
        return None
    key = f"hours.{day}"
    match = HOURS_RE.fullmatch(text.strip())
    if not match:
        raise ConfigError(f"bad opening hours {text!r}", path=where, key=key,
                          hint=f'write {day} = "07:00-17:00" or {day} = "closed"')
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ConfigError(f"no such time in {text!r}", path=where, key=key,
                          hint="hours 00-23 (24:00 for midnight at the end), minutes 00-59")
    start = time(h1, m1)
    end = END_OF_DAY if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ConfigError(f"opening hours end before they start: {text!r}", path=where, key=key,
                          hint="one range within the day, like \"07:00-17:00\"; "
                               "hours past midnight are not supported")
    return (start, end)


# The largest sensible value of each number (a day's delay, a year's cooldown): beyond them a
# setting is a typo, and a delay of 999999999999 s put every text-back in the year 33715.
BOUNDS = {"policy.cooldown_hours": (24 * 366, "hours"), "policy.delay_seconds": (86400, "seconds"),
          "policy.daily_cap": (100_000, "texts"), "owner.alerts_batch_minutes": (1440, "minutes"),
          "owner.follow_up_after_hours": (24 * 31, "hours"),
          "phone.call_timeout_seconds": (3600, "seconds"), "phone.photo_max_mb": (1000, "MB"),
          "modem.baudrate": (4_000_000, "baud")}


def _non_negative(value, where: str, key: str):
    import math

    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"must be a number, got {value}", path=where, key=key,
                          hint="write a plain number, like 24")
    if value < 0:
        raise ConfigError(f"must not be negative, got {value}", path=where, key=key,
                          hint="use 0 or more")
    high, unit = BOUNDS.get(key, (None, ""))
    if high is not None and value > high:
        raise ConfigError(f"{value} is too large (at most {high:,} {unit})", path=where, key=key,
                          hint=f"use a value from 0 to {high:,}")
    return value


MAX_NAME = 100   # characters of business.name or .owner: a name, not a paragraph


def _texted(value: str, where: str, key: str) -> str:
    """A value that goes into every text (business.name, .owner): one line of printable text."""
    from gateway.render import control_character

    bad = control_character(value)
    if bad is not None:
        raise ConfigError(f"holds a control character (U+{ord(bad[1]):04X}) at character "
                          f"{bad[0] + 1}: it would be texted to every caller", path=where,
                          key=key, hint="retype the value in a plain text editor, on one line")
    if len(value) > MAX_NAME:
        raise ConfigError(f"is {len(value):,} characters long; at most {MAX_NAME}", path=where,
                          key=key, hint="shorten it: it goes into every text")
    return value


# scheme://host[:port][/path]: the host a name, an IPv4 address or an [IPv6] one.
_URL = re.compile(r"(https?)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?(/\S*)?")


def _url(value: str, where: str, key: str) -> str:
    """An http(s) URL with a host, and a port if any that is a port (the phone link's urllib
    raised on "http://[::1" after the check had passed it)."""
    match = _URL.fullmatch(value.strip())
    if not match or (match[3] and not 0 < int(match[3]) <= 65535):
        raise ConfigError(f"not an http:// URL: {value!r}", path=where, key=key,
                          hint='write it like "http://192.168.1.50:8080"')
    return value


def _family(name: str, where: str) -> str:
    if name == "auto":
        return name
    from gateway.at.families import FAMILIES

    if name not in FAMILIES:
        hint = _suggest(name, FAMILIES) or f"use \"auto\" or one of: {', '.join(sorted(FAMILIES))}"
        raise ConfigError(f"unknown modem family {name!r}", path=where, key="modem.family",
                          hint=hint)
    return name


def _modem(m: dict, folder: Path, where: str) -> ModemSettings:
    if not m["port"].strip():
        raise ConfigError("empty modem port", path=where, key="modem.port",
                          hint='a device such as "/dev/ttyUSB2", or "sim" for the simulator')
    if m["baudrate"] <= 0:
        raise ConfigError(f"baud rate must be positive, got {m['baudrate']}", path=where,
                          key="modem.baudrate", hint="most modems use 115200")
    _non_negative(m["baudrate"], where, "modem.baudrate")
    if m["pin"] and not PIN_RE.fullmatch(m["pin"]):
        raise ConfigError("a SIM PIN is 4 to 8 digits", path=where, key="modem.pin",
                          hint='write it in quotes, like pin = "1234", or pin = "" for none')
    scenario = None
    if m["scenario"]:
        if m["port"] != "sim":
            raise ConfigError("a scenario is only played when port = \"sim\"", path=where,
                              key="modem.scenario", hint='remove it, or set port = "sim"')
        scenario = (folder / Path(m["scenario"]).expanduser()).resolve()
        if not scenario.is_file():
            raise ConfigError(f"scenario file not found: {scenario}", path=where,
                              key="modem.scenario", hint='check the path, or "" for the demo')
    return ModemSettings(port=m["port"], baudrate=m["baudrate"],
                         family=_family(m["family"], where), pin=m["pin"], scenario=scenario)


def _numbers(section: str, key: str, raw: list[str], region: str, where: str) -> frozenset[str]:
    return frozenset(_phone(item, region, where, f"{section}.{key}[{i}]")
                     for i, item in enumerate(raw))


def load(path: Path) -> Config:
    """Read and check the config file; raise ConfigError at the first mistake."""
    path = Path(path).expanduser().absolute()
    where = str(path)
    raw, data = _read(path)
    v = _checked(raw, where)
    folder = path.parent
    b, p = v["business"], v["policy"]
    for key in ("name", "owner"):
        if not b[key].strip():
            raise ConfigError("must not be empty", path=where, key=f"business.{key}",
                              hint="the templates use it: $company, $owner")
        _texted(b[key].strip(), where, f"business.{key}")
    region = _region(b["region"], where)
    # Checked in the file's order, so that the first mistake reported is the first in the file.
    business = Business(
        name=b["name"].strip(), owner=b["owner"].strip(),
        phone=_phone(b["phone"], region, where, "business.phone") if b["phone"] else None,
        owner_phone=(_phone(b["owner_phone"], region, where, "business.owner_phone")
                     if b["owner_phone"] else None),
        timezone=_zone(b["timezone"], where), region=region)
    hours = {i: _hours(day, v["hours"][day], where) for i, day in enumerate(DAYS)}
    modem = _modem(v["modem"], folder, where)
    policy = PolicySettings(
        cooldown=float(_non_negative(p["cooldown_hours"], where, "policy.cooldown_hours")) * 3600,
        delay=float(_non_negative(p["delay_seconds"], where, "policy.delay_seconds")),
        daily_cap=_non_negative(p["daily_cap"], where, "policy.daily_cap"),
        blocklist=_numbers("policy", "blocklist", p["blocklist"], region, where),
        contacts=_numbers("policy", "contacts", p["contacts"], region, where),
        text_rejected=p["text_rejected"], text_unknown=p["text_unknown"],
        min_rings=_min_rings(p["min_rings"], where))
    database = v["store"]["database"]
    if not database.strip():
        raise ConfigError("must name a file", path=where, key="store.database",
                          hint='write database = "textback.db" (beside this file) or a full path')
    database_path = (folder / Path(database).expanduser()).resolve()
    if database_path.is_dir():
        raise ConfigError(f"{database_path} is a folder, not a file", path=where,
                          key="store.database", hint='name a file in it, like "textback.db"')
    level = v["log"]["level"].upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"unknown log level {v['log']['level']!r}", path=where, key="log.level",
                          hint=f"one of {', '.join(LOG_LEVELS)}")
    return Config(
        path=path, business=business, hours=hours, modem=modem, policy=policy,
        templates_dir=(folder / Path(v["templates"]["dir"]).expanduser()).resolve(),
        database=database_path,
        log_level=level, owner=_owner(v["owner"], business, where),
        phone=_phone_link(v["phone"], where) if modem.port == "android" else None,
        review_url=_link(v["reviews"]["url"], where, "reviews.url"),
        booking_url=_link(b["booking_url"], where, "business.booking_url"),
        stamp=hashlib.sha256(data).hexdigest()[:16],
        secrets_set=tuple(dotted for dotted in SECRET_KEYS if _value(v, dotted)),
        **_alive(v, folder, where))


def _value(values: dict[str, dict[str, Any]], dotted: str):
    section, key = dotted.split(".")
    return values[section][key]


def _alive(v: dict, folder: Path, where: str) -> dict:
    """[backup], [health], [metrics], [selftest]."""
    from . import backup

    return {"backup": backup.parse(v["backup"], folder, where),
            "health": _health(v["health"], where),
            "metrics": _metrics(v["metrics"], folder, where),
            "selftest": _selftest(v["selftest"], where)}


# -- [health], [metrics], [selftest] -----------------------------------------------
HEALTH_MIN_SECONDS = 10.0   # ping_every and fail_after are at least 10 s


@dataclass(frozen=True)
class HealthSettings:
    ping_url: str
    ping_every: float
    fail_after: float


def _health(raw: dict, where: str) -> HealthSettings | None:
    """[health] (the dead-man pings, gateway.app.healthping); None without a ping_url."""
    for key in ("ping_every", "fail_after"):
        if raw[key] < HEALTH_MIN_SECONDS:
            raise ConfigError(f"must be at least {HEALTH_MIN_SECONDS:g} seconds, got {raw[key]}",
                              path=where, key=f"health.{key}",
                              hint=f"the default is {300 if key == 'ping_every' else 600}")
    url = raw["ping_url"].strip()
    if not url:
        return None
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in url):
        raise ConfigError(f"not a ping URL: {_shown(url)} holds a space or a control character",
                          path=where, key="health.ping_url",
                          hint='copy it again from the check in Healthchecks, like '
                               '"https://hc-ping.com/<uuid>"')
    if not url.isascii():
        odd = next(ch for ch in url if not ch.isascii())
        raise ConfigError(f"the ping URL holds {odd!r}, which is not plain ASCII: {_shown(url)}",
                          path=where, key="health.ping_url",
                          hint='copy it again from the check in Healthchecks, like '
                               '"https://hc-ping.com/<uuid>"')
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ConfigError(f"not a ping URL: {url!r}", path=where, key="health.ping_url",
                          hint='copy it from the check in Healthchecks, like '
                               '"https://hc-ping.com/<uuid>"')
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"not a port in {url!r}", path=where, key="health.ping_url",
                          hint="leave the port out, or give a number") from None
    return HealthSettings(ping_url=url, ping_every=float(raw["ping_every"]),
                          fail_after=float(raw["fail_after"]))


@dataclass(frozen=True)
class MetricsSettings:
    textfile: Path


def _metrics(raw: dict, folder: Path, where: str) -> MetricsSettings | None:
    """[metrics] (node_exporter's textfile, gateway.app.metrics); None without a textfile."""
    text = raw["textfile"].strip()
    if not text:
        return None
    path = (folder / Path(text).expanduser()).resolve()
    if path.suffix != ".prom":
        raise ConfigError(f"node_exporter reads only files ending in .prom, not {path.name!r}",
                          path=where, key="metrics.textfile",
                          hint='textfile = "/var/lib/prometheus/node-exporter/textback.prom"')
    return MetricsSettings(textfile=path)


@dataclass(frozen=True)
class SelftestSettings:
    at: time


def _selftest(raw: dict, where: str) -> SelftestSettings | None:
    """[selftest] (the daily text to the box's own number, gateway.app.selftest)."""
    text = raw["at"].strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f"not a time of day: {text!r}", path=where, key="selftest.at",
                          hint='write it like "07:30" (business time), or leave [selftest] out')
    return SelftestSettings(at=time(int(match[1]), int(match[2])))


def _min_rings(value: int, where: str) -> int:
    if value < 1:
        raise ConfigError(f"must be 1 or more, got {value}", path=where, key="policy.min_rings",
                          hint="1 texts every missed call; 2 ignores calls that rang only once")
    return value


# A review or booking link goes into a text: Google's own are under 100 characters.
MAX_LINK = 200


# A web link as a text carries it: http(s), a host, maybe a port, then a path, query or fragment.
# A pattern, not urllib.parse: config is a shared leaf, and the layers keep urllib (its request
# half is network I/O) out of the pure modules (pyproject.toml, import-linter).
_WEB_LINK = re.compile(r"(?P<scheme>https?)://(?P<host>[^/?#:@\s]+)(?P<port>:\d{1,5})?"
                       r"(?P<rest>[/?#]\S*)?", re.IGNORECASE)


def _link(raw: str, where: str, key: str) -> str:
    """A web link texts carry as it is ($review_link, $booking_link); "" for none. Plain ASCII
    only: one other character (an emoji) makes every text that carries it UCS-2 (70 characters a
    part), and phones cut a link at characters they do not expect."""
    text = raw.strip()
    if not text:
        return ""
    if len(text) > MAX_LINK:
        raise ConfigError(f"the link is {len(text):,} characters long; at most {MAX_LINK}",
                          path=where, key=key, hint="every text carrying it would cost several "
                          "texts: use the short link Google or your booking site gives you")
    parts = _WEB_LINK.fullmatch(text)
    if parts is None or any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in text):
        raise ConfigError(f"not a web link: {_shown(raw)}", path=where, key=key,
                          hint='write the whole link, starting https://, like '
                               '"https://g.page/r/AbCdEf/review"')
    if not text.isascii():
        odd = next(ch for ch in text if not ch.isascii())
        encoded = _ascii_link(parts)
        raise ConfigError(
            f"the link holds {odd!r}, which is not plain ASCII: every text carrying it would cost "
            f"2 to 3 times as much (UCS-2), and phones may cut the link there", path=where,
            key=key, hint=(f'use the link as Google or your booking site gives it, or its ASCII '
                           f'form: "{encoded}"' if encoded else
                           "use the link as Google or your booking site gives it"))
    return text


def _shown(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _ascii_link(parts: re.Match) -> str | None:
    """The same link in ASCII (the host in IDNA, every other non-ASCII character as its UTF-8
    octets percent-encoded, RFC 3986 2.1 and 3.2.2), or None if the host has no IDNA form."""
    try:
        host = parts["host"].lower().encode("idna").decode("ascii")
    except UnicodeError:
        return None
    rest = "".join(ch if ch.isascii() else "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                   for ch in parts["rest"] or "")
    return f"{parts['scheme'].lower()}://{host}{parts['port'] or ''}{rest}"


def _phone_link(p: dict, where: str):
    """The Android gateway apps (SMSGate, CallGate) as the modem: [modem] port = "android"."""
    for key in ("password", "calls_password", "signing_key"):
        if not p[key]:
            raise ConfigError("needed when port = \"android\"", path=where, key=f"phone.{key}",
                              hint="copy it from the app's settings on the phone (see README, "
                                   "\"Use your own Android phone\")")
    for key in ("url_sms", "url_calls"):
        _url(p[key], where, f"phone.{key}")
    if p["webhook_url"]:
        _url(p["webhook_url"], where, "phone.webhook_url")
    if not 0 <= p["listen_port"] <= 65535:
        raise ConfigError(f"no such port {p['listen_port']}", path=where, key="phone.listen_port",
                          hint="a port number such as 8787")
    # Every key but the two in other units is the setting of the same name.
    same = {key: p[key] for key in p if key not in ("call_timeout_seconds", "photo_max_mb")}
    return PhoneSettings(
        **same,
        lost_end=float(_non_negative(p["call_timeout_seconds"], where,
                                     "phone.call_timeout_seconds")),
        photo_max_bytes=int(float(_non_negative(p["photo_max_mb"], where, "phone.photo_max_mb"))
                            * 1_000_000))


def _owner(o: dict, business: Business, where: str) -> OwnerSettings:
    after = float(_non_negative(o["follow_up_after_hours"], where, "owner.follow_up_after_hours"))
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", o["digest_at"].strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ConfigError(f"not a time of day: {o['digest_at']!r}", path=where,
                          key="owner.digest_at", hint='write it like "07:30"')
    if o["digest"] and not business.owner_phone:
        raise ConfigError("the digest needs your cell number", path=where, key="owner.digest",
                          hint='set business.owner_phone, or digest = false')
    batch = float(_non_negative(o["alerts_batch_minutes"], where, "owner.alerts_batch_minutes"))
    return OwnerSettings(alerts=o["alerts"], alerts_batch=batch * 60, follow_up=o["follow_up"],
                         follow_up_after=after * 3600 if after else None, digest=o["digest"],
                         digest_at=time(int(match[1]), int(match[2])))


# Characters that force UCS-2 and the GSM-7 one to use instead.
GSM7_STAND_INS = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                  "\u2014": "-", "\u2026": "...", "\u00a0": "a plain space"}


def exposed(path: Path) -> bool:
    """Others can read the file: any "other" bit, or group bits for a group other than textback
    (the installed config is 0640 root:textback so that the service reads it)."""
    import grp

    info = path.stat()
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = None
    return bool(info.st_mode & 0o007 or (info.st_mode & 0o070 and group != "textback"))


# The box's settings folder (gateway.starter.BOX_DIR): its config is 0640 root:textback.
BOX_DIR = Path("/etc/textback")


def private_fix(path: Path) -> str:
    """How to make a config holding secrets private. A box's (in /etc/textback, or given to group
    textback) is read by the service as group textback: 0600 root would stop it."""
    import grp

    try:
        group = grp.getgrgid(path.stat().st_gid).gr_name
    except (OSError, KeyError):
        group = None
    if path.resolve().parent == BOX_DIR or group == "textback":
        return (f"sudo chgrp textback {path} && sudo chmod 640 {path} (the service reads it as "
                f"group textback: not 600)")
    return f"chmod 600 {path}"


SIMULATED = ('[modem] port = "sim" is the simulated modem: nothing reaches real callers, and its '
             'demo calls fill the lead database; set port = "/dev/textback-modem" (or the '
             "modem's /dev/serial/by-id/... path), or \"android\" for the phone")


def check(config: Config, *, box: bool | None = None) -> list[str]:
    """Warnings a working config may still deserve; TemplateError for templates that cannot work.

    `box`: the settings are a box's (a card's, or /etc/textback's; None: tell by the path), where
    the simulated modem is a mistake to say first (the starter's default passes every check)."""
    import unicodedata

    from gateway import render
    from gateway.numbers import display

    secrets = config.secrets()
    if secrets and config.path.exists() and exposed(config.path):
        # what `textback run` refuses (cli/running.py refuse_exposed_secrets)
        raise ConfigError(f"holds secrets ({', '.join(secrets)}) and other users can read it",
                          path=str(config.path),
                          hint=f"{private_fix(config.path)}, then start again")
    warnings = []
    if box is None:
        box = config.path.resolve().parent == BOX_DIR
    if box and config.modem.port == "sim":
        warnings.append(SIMULATED)
    templates = render.load_templates(config.templates_dir)
    for path in (config.path, config.templates_dir, *render.template_files(config.templates_dir)):
        if writable_by_others(path):
            warnings.append(f"{path} can be changed by other users of this machine (they could "
                            f"rewrite what your callers are texted): chmod go-w {path}")
    b = config.business
    sample = {"company": b.name, "owner": b.owner, "first_name": "", "status": "",
              "business_phone": display(b.phone, b.region), "caller": _sample_caller(b.region),
              "review_link": config.review_url, "booking_link": config.booking_url}
    templates = render.with_review(templates)
    warnings += link_warnings(config, templates)
    for name, text in sorted(templates.items()):
        if name == "review" and not config.review_url:
            continue  # never sent without a link (gateway.app.reviews)
        body = render.render(text, sample)
        segs = render.segments(body)
        if segs.parts > render.MAX_TEMPLATE_PARTS:
            raise TemplateError(
                f"with your business details it is sent as {segs.parts} texts, each billed",
                path=str(config.templates_dir / f"{name}.txt"), key=name,
                hint=f"shorten it to {render.MAX_TEMPLATE_PARTS} texts at most (one is best)")
        if render.uses(text, "status"):
            warnings.append(f"{name}.txt: uses $status, which is empty until you set a status "
                            f"(text \"status on a roof till 3\" to textback); without one it "
                            f"reads: {body[:80]!r}")
        for ch in segs.ucs2_chars:
            label = unicodedata.name(ch, f"U+{ord(ch):04X}")
            instead = GSM7_STAND_INS.get(ch)
            warnings.append(
                f"{name}.txt: {ch!r} ({label}) forces UCS-2, so a text holds 70 characters "
                f"instead of 160" + (f"; use {instead} instead" if instead else ""))
        if segs.parts > 1:
            unit = "septets" if segs.encoding == "GSM-7" else "UTF-16 units"
            warnings.append(f"{name}.txt: with your business details it is sent as {segs.parts} "
                            f"texts ({segs.units} {unit}); shorten it to fit in one")
    if config.backup is not None:   # the credentials file, checked as the service will
        from .backup import read_credentials

        read_credentials(config.backup)
    return warnings


# the link fields and the setting each comes from.
LINK_FIELDS = {"review_link": ("reviews.url", "review_url"),
               "booking_link": ("business.booking_url", "booking_url")}


def link_warnings(config: Config, templates: dict[str, str]) -> list[str]:
    """A template that uses a link field whose setting is empty would send a text with a hole in
    it ("Book online: "). review.txt without a review link is never sent, so it is not named."""
    from gateway.render import fields_used

    out = []
    for name, text in sorted(templates.items()):
        if name == "review" and not config.review_url:
            continue
        for link in sorted(fields_used(text) & set(LINK_FIELDS)):
            setting, attribute = LINK_FIELDS[link]
            if not getattr(config, attribute):
                section, key = setting.split(".")
                out.append(f"{name}.txt uses ${link} but {setting} is not set, so the text "
                           f"would go with nothing there: set it under [{section}] ({key} = "
                           f'"https://..."), or take ${link} out of {name}.txt')
    return out


def writable_by_others(path: Path) -> bool:
    """Others (not the owner, not the textback group) may change the file or folder."""
    try:
        return bool(path.stat().st_mode & 0o002)
    except OSError:
        return False


def _sample_caller(region: str) -> str:
    import phonenumbers

    from gateway.numbers import display

    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return ""
    return display(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164),
                   region)
