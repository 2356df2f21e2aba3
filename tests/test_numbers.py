"""gateway.numbers: E.164 normalisation, short codes, masks and display formats."""
import pytest

from gateway.numbers import display, is_short_code, mask, normalize, same_number


@pytest.mark.parametrize("raw, type_, region, expected", [
    # The same person however the modem reports it (docs/reference/modems.md, "Caller ID and call lists").
    ("+15125550142", 145, "US", "+15125550142"),
    ("15125550142", 145, "US", "+15125550142"),      # 145 without the "+"
    ("5125550142", 129, "US", "+15125550142"),
    ("15125550142", 129, "US", "+15125550142"),      # national prefix 1
    ("2345640362", 129, "US", "+12345640362"),       # the u-blox capture
    ("+12345640362", 145, "US", "+12345640362"),
    ("+1 (512) 555-0142", None, "US", "+15125550142"),
    ("01115125550142", 129, "US", "+15125550142"),   # US international prefix 011
    ("4930123456", 145, "US", "+4930123456"),        # 145: Berlin, not area code 493
    ("4930123456", 129, "US", "+14930123456"),
    # UK
    ("07700900123", 129, "GB", "+447700900123"),
    ("+447700900123", 145, "US", "+447700900123"),
    ("447700900123", 145, "US", "+447700900123"),
    ("447700900123", 129, "US", "+447700900123"),    # "+" lost, type 129: read as international
    ("0015125550142", 129, "GB", "+15125550142"),
    # Nobody to text back.
    (None, None, "US", None),
    ("", 128, "US", None),                           # withheld: +CLIP: "",128
    ("   ", 129, "US", None),
    ("Unknown", 128, "US", None),
    ("Private", 128, "US", None),
    ("1-800-FLOWERS", 129, "US", None),              # letters are not turned into digits
    ("5550142", 129, "US", None),                    # 7-digit local only: no area code
    ("12345", 129, "US", None),
    ("911", 129, "US", None),
    ("+1", 145, "US", None),
    ("+", 145, "US", None),
])
def test_normalize(raw, type_, region, expected):
    assert normalize(raw, type_, region) == expected


@pytest.mark.parametrize("raw, region, expected", [
    ("72404", "US", True),     # carrier short code
    ("262966", "US", True),    # 6-digit short code
    ("311", "US", True),
    ("911", "US", True),
    ("999", "GB", True),
    ("61998", "GB", True),
    ("5125550142", "US", False),
    ("+15125550142", "US", False),
    ("+72404", "US", False),   # with a "+" it is an international number, not a short code
    ("1234567", "US", False),
    ("11", "US", False),
    ("", "US", False),
    ("Unknown", "US", False),
])
def test_is_short_code(raw, region, expected):
    assert is_short_code(raw, region) is expected


def test_mask_shows_no_digit_and_tells_callers_apart():
    numbers = ["+15125550142", "+447700900123", "+353861234567", "5125550142", "72404",
               "+15125550143"]
    tags = [mask(n) for n in numbers]
    for tag in tags:
        assert tag.startswith("caller-") and not any(ch.isdigit() for ch in tag)
    assert len(set(tags[:3] + tags[4:])) == 5                 # different callers, different tags
    assert mask("+15125550142") == tags[0] == mask("(512) 555-0142".replace("(", "+1("))
    assert (mask(None), mask("")) == ("withheld", "withheld")


@pytest.mark.parametrize("e164, region, expected", [
    ("+15125550142", "US", "(512) 555-0142"),
    ("+15125550142", "CA", "(512) 555-0142"),   # same country code: national format
    ("+447700900123", "US", "+44 7700 900123"),  # abroad: international format
    ("+447700900123", "GB", "07700 900123"),
    (None, "US", ""),
    ("not a number", "US", "not a number"),
])
def test_display(e164, region, expected):
    assert display(e164, region) == expected


@pytest.mark.parametrize("a, b, same", [
    ("+15125550142", "(512) 555-0142", True),     # CallGate and the phone's call log
    ("+15125550142", "5125550142", True),
    ("2345640362", "+12345640362", True),         # a modem's 129 and 145 forms (u-blox capture)
    ("+15125550142", "+15125550143", False),
    ("+447700900123", "07700 900123", True),      # national and international forms
    ("+445125550142", "+15125550142", True),      # the last 10 digits decide
    ("72345", "72345", True),                     # a short code
    ("72", "72", True), ("72", "73", False),      # shorter than 3 digits: all of them
    ("", "+15125550142", False), ("", "", False),
])
def test_same_number(a, b, same):
    assert same_number(a, b) is same
