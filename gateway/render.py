"""Message templates: load, validate, render with `string.Template`, and count SMS segments.

A template is a UTF-8 text file in the templates folder, named for when it is sent
(`missed_call.txt`). Fields are `$company` or `${company}`; `$$` is a literal dollar.
"""
from __future__ import annotations

import difflib
import re
import string
from dataclasses import dataclass
from pathlib import Path

from gateway import textfile
from gateway.errors import TemplateError

# What a template may use (the daemon fills each; "" when unknown).
FIELDS = frozenset({
    "company",         # business.name
    "owner",           # business.owner
    "business_phone",  # business.phone, display format
    "first_name",      # the lead's first name, "" when unknown
    "caller",          # the caller's number, display format
    "status",          # the owner's status line, "" when none
    "review_link",     # [reviews] url, "" when not set
    "booking_link",    # [business] booking_url, "" when not set
})
# Sent only when set up ([reviews] url): a templates folder made before it may lack the file, and
# then the shipped one is used (`with_review`).
OPTIONAL_TEMPLATES = ("review",)

# The templates the daemon sends; each must exist in the templates folder.
TEMPLATE_NAMES = ("missed_call", "after_hours", "follow_up")

# 3GPP TS 23.038 clause 6.2.1, default alphabet: index = septet value. 0x1B is the escape to the
# extension table and is not a character of its own. (gsmmodem.pdu.GSM7_BASIC has "`" at 0x5F
# where the spec has "§", and its extension table has "ÿ" for form feed, so we keep our own.)
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# 3GPP TS 23.038 clause 6.2.1.1, extension table: each costs 2 septets (escape 0x1B + code).
GSM7_EXTENSION_CODES = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C,
                        "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}
GSM7_EXTENSION = frozenset(GSM7_EXTENSION_CODES)
_GSM7_COST = {ch: 1 for ch in GSM7_BASIC if ch != "\x1b"} | {ch: 2 for ch in GSM7_EXTENSION}

# 3GPP TS 23.040 clause 9.2.3.24.1: a concatenated part carries a 6-byte user data header
# (UDHL + 5-byte IE), leaving 153 of 160 septets (GSM-7) or 67 of 70 UTF-16 units (UCS-2).
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}
# The concatenation IE counts parts in one octet (23.040 9.2.3.24.1): no message has more.
MAX_PARTS = 255
# A template is sent to every caller: more texts than this each time is a mistake, not a message.
MAX_TEMPLATE_PARTS = 3
# In a template: a newline (and a CR before it) is text; any other control character (a NUL, an
# escape, a bell: a paste from a terminal) would be sent to every caller.
TEMPLATE_CONTROLS_ALLOWED = "\n\r"


@dataclass(frozen=True)
class Segments:
    encoding: str                # "GSM-7" or "UCS-2"
    parts: int                   # SMS messages the text is sent as (1 for an empty text)
    units: int                   # septets (GSM-7) or UTF-16 code units (UCS-2), no headers
    ucs2_chars: tuple[str, ...]  # characters outside GSM-7, each once, in order of appearance


def _cost_ucs2(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1  # outside the BMP: a surrogate pair


def _costs(text: str, ucs2: bool) -> list[int]:
    return [_cost_ucs2(ch) for ch in text] if ucs2 else [_GSM7_COST[ch] for ch in text]


def _split(text: str, costs: list[int], single: int, multi: int) -> list[str]:
    """The parts, never cutting a character (an escape pair, a surrogate pair) across two."""
    if sum(costs) <= single:
        return [text]
    parts, start, used = [], 0, 0
    for i, cost in enumerate(costs):
        if used + cost > multi:
            parts.append(text[start:i])
            start, used = i, 0
        used += cost
    parts.append(text[start:])
    return parts


def split(text: str) -> tuple[str, list[str]]:
    """(encoding, parts): how `text` is cut into SMS messages. The PDU encoder (gateway.at.pdu)
    sends exactly these parts: what `segments` says (config check, reply --dry-run) goes out."""
    ucs2 = any(ch not in _GSM7_COST for ch in text)
    encoding = "UCS-2" if ucs2 else "GSM-7"
    return encoding, _split(text, _costs(text, ucs2), *LIMITS[encoding])


def segments(text: str) -> Segments:
    """How `text` goes over the air: encoding, number of parts, units, and what forces UCS-2."""
    outside = tuple(dict.fromkeys(ch for ch in text if ch not in _GSM7_COST))
    encoding, parts = split(text)
    return Segments(encoding, len(parts), sum(_costs(text, bool(outside))), outside)


def unsendable(text: str) -> str | None:
    """Why `text` can never go out as an SMS, or None when it can: empty, a character no encoding
    holds, or longer than a concatenated message can be."""
    if not text.strip():
        return "the text is empty"
    bad = next((ch for ch in text if 0xD800 <= ord(ch) <= 0xDFFF), None)
    if bad is not None:
        # A lone UTF-16 surrogate is no character at all (an undecodable byte in a command-line
        # argument becomes one in Python): no encoding can send it.
        return f"it holds an invalid character (a lone surrogate, U+{ord(bad):04X})"
    parts = len(split(text)[1])
    if parts > MAX_PARTS:
        return f"it is too long: {parts} parts, and one SMS message can have at most {MAX_PARTS}"
    return None


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def validate(name: str, text: str, path: Path | str | None = None) -> None:
    """Raise TemplateError for an unknown field ("$compnay": suggest "$company") or a bad "$"."""
    where = str(path) if path else f"template {name}"
    if not text.strip():
        # An empty file would send an empty text to every caller.
        hint = ("write the text to send (textback init FOLDER writes the defaults)" +
                ("; to send no follow-ups, set [owner] follow_up = false"
                 if name == "follow_up" else ""))
        raise TemplateError("the template is empty", path=where, key=name, hint=hint)
    bad = control_character(text, TEMPLATE_CONTROLS_ALLOWED)
    if bad is not None:
        raise TemplateError(
            f"a control character (U+{ord(bad[1]):04X}) at {_where(text, bad[0])}: it would be "
            "texted to every caller", path=where, key=name,
            hint="retype that part of the template in a plain text editor")
    if segments(text).parts > MAX_TEMPLATE_PARTS:
        raise TemplateError(
            f"it is sent as {segments(text).parts} texts, each billed", path=where, key=name,
            hint=f"shorten it to {MAX_TEMPLATE_PARTS} texts at most (one is best)")
    for match in string.Template.pattern.finditer(text):
        if match.group("invalid") is not None:
            start = match.start()  # the "$" itself; the "invalid" group is what follows it
            raise TemplateError(
                f"a lone '$' at {_where(text, start)}", path=where, key=name,
                hint="write $$ for a dollar sign, or a field name such as $company")
        field = match.group("named") or match.group("braced")
        if field is not None and field not in FIELDS:
            close = difflib.get_close_matches(field, sorted(FIELDS), n=1)
            hint = (f"did you mean ${close[0]}?" if close else "") + \
                f" Fields: {', '.join('$' + f for f in sorted(FIELDS))}"
            raise TemplateError(f"unknown field ${field} at {_where(text, match.start())}",
                                path=where, key=name, hint=hint.strip())


# Characters no text should carry: C0 and C1 controls and DEL (a NUL, an escape, a bell), and
# the bidirectional overrides that make a text read other than it is.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def control_character(text: str, allowed: str = "") -> tuple[int, str] | None:
    """(index, character) of the first control character in `text` not in `allowed`, or None."""
    for match in _CONTROL.finditer(text):
        if match.group() not in allowed:
            return match.start(), match.group()
    return None


def uses(text: str, field: str) -> bool:
    """Does the template fill in `field` ($field or ${field})?"""
    return any((m.group("named") or m.group("braced")) == field
               for m in string.Template.pattern.finditer(text))


def template_files(folder: Path) -> list[Path]:
    """The templates in `folder`: every *.txt file, sorted, but hidden ones (macOS writes
    "._missed_call.txt" beside each file it copies to a FAT card: resource forks, not text)."""
    return sorted(p for p in Path(folder).glob("*.txt") if not p.name.startswith(".")
                  and p.is_file())


def load_templates(folder: Path) -> dict[str, str]:
    """Every template file in `folder` by name (file stem), validated, with one trailing newline
    removed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TemplateError("templates folder not found", path=str(folder),
                            hint="set [templates] dir in the config, or run: textback init")
    templates = {}
    for path in template_files(folder):
        try:
            text = textfile.read(path)
        except textfile.NotText as exc:
            raise TemplateError(exc.reason, path=str(path), hint=exc.hint) from None
        text = text.removesuffix("\n")
        validate(path.stem, text, path)
        templates[path.stem] = text
    missing = [name for name in TEMPLATE_NAMES if name not in templates]
    if missing:
        raise TemplateError(f"missing template {missing[0]}.txt", path=str(folder),
                            hint="copy it from the defaults (textback init FOLDER writes them)")
    return templates


def with_review(templates: dict[str, str]) -> dict[str, str]:
    """The templates, with the shipped review.txt when the owner's folder has none (a folder made
    by an older `textback init`)."""
    if all(name in templates for name in OPTIONAL_TEMPLATES):
        return templates
    shipped = load_templates(default_templates_dir())
    return {**{name: shipped[name] for name in OPTIONAL_TEMPLATES}, **templates}


def fields_used(text: str) -> set[str]:
    """The fields a (valid) template uses."""
    return {m.group("named") or m.group("braced") for m in string.Template.pattern.finditer(text)
            if m.group("named") or m.group("braced")}


def render(text: str, fields: dict[str, str]) -> str:
    """Fill the template; a field the template uses but `fields` lacks is a TemplateError."""
    try:
        return string.Template(text).substitute(fields)
    except KeyError as exc:
        raise TemplateError(f"no value for field ${exc.args[0]}",
                            hint=f"fields: {', '.join(sorted(fields))}") from None
    except ValueError as exc:
        raise TemplateError(f"bad template: {exc}", hint="write $$ for a dollar sign") from None


def default_templates_dir() -> Path:
    """The shipped defaults: the package's default_templates/ folder in an installed wheel
    (pyproject maps the repo's templates/ there), else the repo's templates/ when running from a
    checkout.

    Not importlib.resources: the folder has no __init__.py, so it is a namespace package whose
    files() is a MultiplexedPath, and str() of that is not a path.
    """
    for folder in (
        Path(__file__).parent / "default_templates",
        Path(__file__).parent.parent / "templates",
    ):
        if (folder / f"{TEMPLATE_NAMES[0]}.txt").is_file():
            return folder
    raise TemplateError("the default templates are missing from this installation",
                        hint="reinstall textback (pip install --force-reinstall textback)")


def whole_text(text: str) -> str:
    """A received text once its parts are joined: surrogate pairs (maybe cut across two parts by
    the sender's phone) become their character; a lone surrogate becomes U+FFFD, so that what is
    stored, shown and relayed is always valid Unicode."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


def span(seconds: float) -> str:
    """A duration as people say it, in its largest unit: "2d", "3h", "10m", "45s"."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def human(size: int) -> str:
    """A size in bytes as people read it: "48 kB", "1.2 MB"."""
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB" if size >= 1e3 \
        else f"{size} bytes"
