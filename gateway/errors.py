"""Every error a user can cause or meet, in one place, each saying what, where and what to do.

The CLI maps them to exit codes in one place, `cli/common.py` (0 ok, 1 runtime failure, 2 usage or
config error); a bad command-line argument is the CLI's own `cli.common.UsageError`.
"""
from __future__ import annotations


class TextbackError(Exception):
    """Base: carries a message fit to show a person, and the CLI exit code."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class ConfigError(TextbackError):
    """A bad config file, key or value: names the file and the key."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None,
                 hint: str | None = None):
        where = ": ".join(p for p in (path, key) if p)
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.path = path
        self.key = key


class TemplateError(ConfigError):
    """A template that cannot render: unknown field, missing file, bad syntax."""


class ModemError(TextbackError):
    """The modem is gone, silent or refuses: a runtime failure."""

    exit_code = 1


class PinRefused(ModemError):
    """The SIM said no to the configured PIN. Never tried again: three wrong PINs lock the SIM."""


class CommandTimeout(ModemError):
    """An AT command got no final result in time."""


class ModemGone(ModemError):
    """The serial port closed under us (unplugged, EIO)."""


class AtError(ModemError):
    """An AT command ended in ERROR / +CME ERROR / +CMS ERROR."""

    def __init__(self, command: str, line: str):
        super().__init__(f"modem answered {line!r} to {command.split('=')[0]}")
        self.command = command
        self.line = line

    @property
    def cms_code(self) -> int | None:
        if self.line.startswith("+CMS ERROR:"):
            try:
                return int(self.line.split(":", 1)[1].strip())
            except ValueError:
                return None
        return None


class StoreError(TextbackError):
    """The lead database cannot be opened or written (locked, read-only, disk full)."""


class NotOurs(StoreError):
    """--db names a file that is not textback's lead database: left untouched, a usage error."""

    exit_code = 2


class NotFound(TextbackError):
    """What the command names does not exist ("no lead #99"): a runtime failure, not bad usage."""

    exit_code = 1


class ImageError(TextbackError):
    """An SD card image textback cannot write into (no MBR, no FAT partition, mtools missing)."""

    exit_code = 2


class AlreadyRunning(TextbackError):
    """Another daemon holds the lead database: two would work the same outbox."""

    exit_code = 1
