"""[backup]: where the leads are copied to, and Litestream's own config made from it (pure).

The user writes one file, textback.toml; Litestream's config is generated here from its
[backup] section and a credentials file, and handed to Litestream without touching the disk
(gateway.box.litestream). What Litestream 0.5.17 accepts, and why each field is set:
docs/reference/litestream.md.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError

SCHEMES = ("file", "sftp", "s3")
# Litestream's default sync interval is 1 s (replica.go DefaultSyncInterval): a commit is on the
# replica about a second later. Longer saves S3 requests; a lead is worth more than a request.
SYNC_INTERVAL = 1.0
# The keys a credentials file may hold, per scheme, and which of them are required.
CREDENTIAL_KEYS = {
    "sftp": {"key_path": False, "password": False, "host_key": True},
    "s3": {"access_key_id": True, "secret_access_key": True, "region": False, "endpoint": False,
           "force_path_style": False},
}
# Litestream config names for them (cmd/litestream/main.go ReplicaSettings yaml tags).
LITESTREAM_NAMES = {"key_path": "key-path", "password": "password", "host_key": "host-key",
                    "access_key_id": "access-key-id", "secret_access_key": "secret-access-key",
                    "region": "region", "endpoint": "endpoint",
                    "force_path_style": "force-path-style"}
# Backup lag over this needs a person: the /fail ping and `textback status` say so.
LAG_LIMIT = 3600.0
_HOST_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com)"
                       r" [A-Za-z0-9+/=]+( .*)?$")


@dataclass(frozen=True)
class BackupSettings:
    replica: str                 # the URL as written, without credentials
    scheme: str                  # file, sftp or s3
    credentials: Path | None     # the owner-only file with the secrets (sftp, s3)
    sync_interval: float         # seconds

    @property
    def place(self) -> str:
        """Where the replica is, for people: the URL (it holds no secret)."""
        return self.replica


def parse(raw: dict, folder: Path, where: str) -> BackupSettings | None:
    """[backup] as written in textback.toml -> settings; None when no replica is named."""
    url = raw["replica"].strip()
    if not url:
        if raw["credentials"]:
            raise ConfigError("credentials without a replica", path=where,
                              key="backup.credentials",
                              hint='name the replica too: replica = "sftp://user@host/path"')
        return None
    scheme = check_url(url, where, "backup.replica")
    creds = None
    if scheme != "file":
        if not raw["credentials"]:
            raise ConfigError(f"a {scheme} replica needs a credentials file", path=where,
                              key="backup.credentials",
                              hint=f'credentials = "backup-credentials.toml" (readable by its '
                                   f"owner only), holding {_needed(scheme)}")
        creds = (folder / Path(raw["credentials"]).expanduser()).resolve()
    interval = raw["sync_interval"]
    if not 0.1 <= interval <= 3600:
        raise ConfigError(f"sync_interval must be 0.1 to 3600 seconds, got {interval}",
                          path=where, key="backup.sync_interval", hint="1 is Litestream's default")
    return BackupSettings(replica=url, scheme=scheme, credentials=creds,
                          sync_interval=float(interval))


def check_url(url: str, where: str, key: str) -> str:
    """The scheme of a replica URL Litestream will accept; ConfigError naming what is wrong."""
    example = 'file:///media/usb/textback, sftp://user@host/path or s3://bucket/path'
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"not a replica URL: {url!r} ({exc})", path=where, key=key,
                          hint=f"write it like {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"not a replica URL textback knows: {url!r}", path=where, key=key,
                          hint=f"write it like {example}")
    if parts.query or parts.fragment:
        raise ConfigError(f"a replica URL takes no ?query or #fragment: {url!r}", path=where,
                          key=key, hint=f"write it like {example}")
    if scheme == "file":
        if parts.netloc or not parts.path.startswith("/") or parts.path.rstrip("/") == "":
            raise ConfigError(f"a file replica needs an absolute folder: {url!r}", path=where,
                              key=key, hint="three slashes, like file:///media/usb/textback")
        return scheme
    if parts.password is not None:
        raise ConfigError("the replica URL holds a password, and textback.toml is no place for "
                          "one", path=where, key=key,
                          hint="remove it from the URL; put it in the credentials file")
    if scheme == "sftp":
        if not parts.username or not parts.hostname or parts.path.strip("/") == "":
            raise ConfigError(f"an sftp replica needs a user, a host and a folder: {url!r}",
                              path=where, key=key, hint="like sftp://backup@nas.local/textback")
        if port == 0:
            raise ConfigError(f"no such port in {url!r}", path=where, key=key,
                              hint="leave the port out for 22")
    if scheme == "s3" and (not parts.hostname or parts.username):
        raise ConfigError(f"an s3 replica needs a bucket: {url!r}", path=where, key=key,
                          hint="like s3://my-bucket/textback (keys go in the credentials file)")
    return scheme


def _needed(scheme: str) -> str:
    keys = CREDENTIAL_KEYS[scheme]
    if scheme == "sftp":
        return "host_key and key_path (or password)"
    return " and ".join(k for k, required in keys.items() if required)


def read_credentials(settings: BackupSettings) -> dict:
    """The credentials file, checked: owner-only, known keys, required ones present."""
    if settings.credentials is None:
        return {}
    import tomllib

    from .config import exposed
    from .textfile import NotText, decode

    path, where = settings.credentials, str(settings.credentials)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("credentials file not found", path=where,
                          hint=f"create it (chmod 600) with {_needed(settings.scheme)}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the credentials file ({exc.strerror})", path=where,
                          hint="it must be readable by the user running textback "
                               "(0600, or 0640 with group textback)") from None
    if exposed(path):
        raise ConfigError("the credentials file can be read by others", path=where,
                          hint=f"chmod 600 {path} (or 640 with group textback)")
    try:
        values = tomllib.loads(decode(data))
    except NotText as exc:
        raise ConfigError(exc.reason, path=where, hint=exc.hint) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where,
                          hint='one key a line: host_key = "ssh-ed25519 AAAA..."') from None
    known = CREDENTIAL_KEYS[settings.scheme]
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key {key!r} for a {settings.scheme} replica", path=where,
                              key=key, hint=f"keys: {', '.join(known)}")
        if not isinstance(value, bool if key == "force_path_style" else str):
            wanted = "true or false" if key == "force_path_style" else "text in quotes"
            raise ConfigError(f"expected {wanted}",
                              path=where, key=key, hint=f'{key} = "..."')
    for key, required in known.items():
        if required and not values.get(key):
            raise ConfigError("missing required key", path=where, key=key,
                              hint=_HINTS.get(key, f'add {key} = "..."'))
    if settings.scheme == "sftp":
        _check_sftp(values, path, where)
    return values


_HINTS = {
    "host_key": "the server's public host key, so that nobody in between can pose as it: "
                "ssh-keyscan -t ed25519 HOST, then host_key = \"ssh-ed25519 AAAA...\"",
    "access_key_id": 'the bucket key: access_key_id = "..."',
    "secret_access_key": 'its secret: secret_access_key = "..."',
}


def _check_sftp(values: dict, path: Path, where: str) -> None:
    host_key = values["host_key"].strip()
    if " " in host_key and not _HOST_KEY.match(host_key):
        # ssh-keyscan prints "host ssh-ed25519 AAAA...": take the key part.
        host_key = host_key.split(" ", 1)[1].strip()
    if not _HOST_KEY.match(host_key):
        raise ConfigError("host_key is not an SSH public key", path=where, key="host_key",
                          hint=_HINTS["host_key"])
    values["host_key"] = host_key
    if not values.get("key_path") and not values.get("password"):
        raise ConfigError("no way to log in: neither key_path nor password", path=where,
                          hint='key_path = "/etc/textback/backup-key" (a private key, chmod 600)')
    if values.get("key_path"):
        key = (path.parent / Path(values["key_path"]).expanduser()).resolve()
        values["key_path"] = str(key)
        if not key.is_file():
            raise ConfigError(f"no private key at {key}", path=where, key="key_path",
                              hint="ssh-keygen -t ed25519 -N '' -f /etc/textback/backup-key")
        from .config import exposed

        if exposed(key):
            raise ConfigError(f"the private key {key} can be read by others", path=where,
                              key="key_path", hint=f"chmod 600 {key} (or 640 with group textback)")


def replica_entry(settings: BackupSettings, creds: dict) -> dict:
    """The `replica:` of one Litestream db (cmd/litestream/main.go ReplicaConfig)."""
    entry: dict = {"url": settings.replica,
                   "sync-interval": f"{int(settings.sync_interval * 1000)}ms"}
    for key, value in sorted(creds.items()):
        entry[LITESTREAM_NAMES[key]] = value
    return entry


def litestream_config(settings: BackupSettings, db: Path, creds: dict, *,
                      socket: Path | None = None) -> str:
    """Litestream's whole config for one database, as JSON (which YAML parsers read as YAML).

    The control socket (off by default) lets the daemon ask when the replica was last written
    (`GET /list`, server.go) without touching the network."""
    config: dict = {"dbs": [{"path": str(db), "replica": replica_entry(settings, creds)}]}
    if socket is not None:
        # 0660: the daemon, in group textback, reads it (server.go chmods to `permissions`)
        config["socket"] = {"enabled": True, "path": str(socket), "permissions": 0o660}
    # ensure_ascii=False: JSON writes a character outside the BMP (an emoji in a folder name) as
    # a surrogate pair ("\ud83d\ude00"), which YAML refuses; as UTF-8 it reads as itself
    return json.dumps(config, indent=1, sort_keys=True, ensure_ascii=False)


def masked(text: str, creds: dict) -> str:
    """A generated config fit to show: every secret replaced by stars."""
    for key in ("password", "secret_access_key", "access_key_id"):
        if creds.get(key):
            text = text.replace(json.dumps(creds[key], ensure_ascii=False)[1:-1], "********")
    return text


# -- how far behind the replica is --------------------------------------------------------------
def lag(now: float, last_sync: float | None, watching_since: float) -> float:
    """Seconds the replica may be missing: since the last successful upload Litestream reports,
    or, when it has reported none, since we started watching (it is not running, or never
    reached the replica). The daemon writes a heartbeat every 30 s, so a working replica is
    never more than about 30 s + sync_interval old."""
    return now - (last_sync if last_sync is not None else watching_since)


def lag_problem(seconds: float | None) -> str | None:
    if seconds is None or seconds <= LAG_LIMIT:
        return None
    from .render import span as _span

    return f"the backup is {_span(seconds)} behind (nothing copied to the replica since then)"
