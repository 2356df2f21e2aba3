"""Phone numbers: E.164 for storage and dedupe, national format for people, tags for logs.

Built on `phonenumbers` (the phonenumberslite package), imported inside each function so that
`textback --help` never pays for its metadata.
"""
from __future__ import annotations

import re

# 3GPP TS 27.007 clause 7.18 (+CLIP) / 7.6: <type> 145 = international number (the "+" is implied
# even when the modem leaves it out); 129 = unknown/national, 128 = unknown.
TYPE_INTERNATIONAL = 145

# What a dialable number may hold besides digits. Anything else ("Unknown", "Private", "PAYPHONE",
# vanity letters that phonenumbers would happily turn into digits) means: no number to text.
_DIALABLE = re.compile(r"\+?[0-9 ()./-]+")

# Short codes are national and short: US/CA common short codes are 5-6 digits, N11 services 3
# (CTIA Short Code Handbook; FCC N11 codes). Longer than this is never treated as a short code.
SHORT_CODE_MAX_DIGITS = 6

# `mask`'s key: made at start, never written anywhere, so a log's tags name no number, even to
# someone who tries every number (a hash without a secret key could be reversed by trying all ten
# billion numbers of a country).
_MASK_KEY = None


def _digits(raw: str) -> str:
    return "".join(ch for ch in raw if ch.isdigit())


def _parse(text: str, region: str):
    import phonenumbers

    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _possible(number) -> bool:
    import phonenumbers

    # Possible, not valid: new ranges and the 555-01xx fiction range must still get a reply.
    # Local-only lengths (a US 7-digit "555-0142") are refused: no area code, nobody to text.
    return (number is not None and phonenumbers.is_possible_number_with_reason(number)
            == phonenumbers.ValidationResult.IS_POSSIBLE)


def _e164(number) -> str:
    import phonenumbers

    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(raw: str | None, type_: int | None = None, region: str = "US") -> str | None:
    """The caller's number in E.164 ("+15125550142"), or None when there is none to text.

    None for: withheld/empty, words ("Unknown", "Private"), letters, impossible lengths.
    `type_` is the 27.007 number type: 145 means international even without the "+", so
    "5125550142"/129 and "+15125550142"/145 (and "15125550142"/145) give the same answer
    (docs/reference/modems.md, "Caller ID and call lists"). A national reading that is impossible
    is retried as international, for modems that drop the "+" and report 129.
    """
    if raw is None:
        return None
    text = raw.strip()
    if not text or not _DIALABLE.fullmatch(text) or not _digits(text):
        return None
    digits = _digits(text)
    if text.startswith("+") or type_ == TYPE_INTERNATIONAL:
        candidates = ["+" + digits]
    else:
        candidates = [text, "+" + digits]
    for candidate in candidates:
        number = _parse(candidate, region)
        if _possible(number):
            return _e164(number)
    return None


def is_short_code(raw: str, region: str) -> bool:
    """True for national short codes ("72404", "311", "911" in the US): they never get a text."""
    if not raw:
        return False
    text = raw.strip()
    if text.startswith("+") or not _DIALABLE.fullmatch(text):
        return False
    digits = _digits(text)
    if not 3 <= len(digits) <= SHORT_CODE_MAX_DIGITS:
        return False
    import phonenumbers

    number = _parse(digits, region)
    return number is not None and phonenumbers.is_possible_short_number_for_region(number, region)


def same_number(a: str, b: str) -> bool:
    """One caller, however a modem or a phone wrote the number: "2345640362"/129 and
    "+12345640362"/145 (a u-blox capture), "(512) 555-0142" and "+15125550142" (the phone's call
    log and CallGate), "07700 900123" and "+447700900123" (a trunk prefix). The same when their
    last 10 digits agree, or all of the shorter's when it has fewer (3 at least; shorter still:
    all digits equal)."""
    da, db = _digits(a), _digits(b)
    tail = min(10, len(da), len(db))
    if tail < 3:
        return bool(da) and da == db
    return da[-tail:] == db[-tail:]


def mask(number: str | None) -> str:
    """A number fit for the log: no digit of it, a tag instead ("caller-qhfz"), the same for the
    same number while the process runs, so that one log tells callers apart. None -> "withheld".

    Before, the country code and the last two digits showed ("+1••••••••42"): digits of a
    customer's number at INFO, which docs/reliability.md promises there are none of."""
    global _MASK_KEY
    import hashlib
    import hmac
    import secrets

    if not number:
        return "withheld"
    if _MASK_KEY is None:
        _MASK_KEY = secrets.token_bytes(16)
    tag = hmac.new(_MASK_KEY, _digits(number).encode() or number.encode(), hashlib.sha256).digest()
    return "caller-" + "".join(chr(ord("a") + byte % 26) for byte in tag[:4])   # letters only


def display(e164: str | None, region: str) -> str:
    """A number for people: national format at home ("(512) 555-0142"), international abroad.

    "" for None; the text unchanged when it is not a number phonenumbers can read.
    """
    if not e164:
        return ""
    import phonenumbers

    number = _parse(e164, region)
    if number is None:
        return e164
    home = phonenumbers.country_code_for_region(region)
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == home
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)
