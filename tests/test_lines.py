"""The line framer: real modem byte streams in, whole lines out, however the reads split them."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.at.lines import MAX_LINE, PROMPT, LineFramer, is_error, is_final

CASES = [
    # (name, reads, expected lines)
    ("crlf", [b"\r\nOK\r\n"], ["OK"]),
    ("final and three URCs in one read (ModemManager fixture)",
     [b"\r\nOK\r\n\r\nRING\r\n\r\n+CLIP: \"+15125550142\",145,\"\",0,\"\",0\r\n\r\nRING\r\n"],
     ["OK", "RING", '+CLIP: "+15125550142",145,"",0,"",0', "RING"]),
    ("SIMCom +CRING with \\r\\r\\n", [b"\r\n+CRING: VOICE\r\r\n"], ["+CRING: VOICE"]),
    ("bare \\r (gammu fixture)", [b"RING\r+CLIP: \"5125550142\",129\r"], ["RING", '+CLIP: "5125550142",129']),
    ("line split across reads", [b"\r\n+CL", b"IP: \"+1512", b"5550142\",145\r", b"\n"],
     ['+CLIP: "+15125550142",145']),
    ("SMS prompt without a line end (gammu#61)", [b"\x0d\x0d\x0a\x3e\x20"], [PROMPT]),
    ("prompt split in two reads", [b"\r\n>", b" "], [PROMPT]),
    ("echoed ATE0", [b"ATE0\r\r\nOK\r\n"], ["ATE0", "OK"]),
    ("invalid UTF-8 survives", [b"\r\n\xff\xfeRING\r\n"], ["\ufffd\ufffdRING"]),
]


@pytest.mark.parametrize("name,reads,expected", CASES, ids=[c[0] for c in CASES])
def test_framing(name, reads, expected):
    framer = LineFramer()
    got = [line for chunk in reads for line in framer.feed(chunk)]
    assert got == expected


def test_overlong_line_is_dropped_and_the_next_line_survives():
    framer = LineFramer()
    got = framer.feed(b"\r\n" + b"x" * (MAX_LINE + 10)) + framer.feed(b"y" * 50 + b"\r\nRING\r\n")
    assert got == ["RING"]
    assert framer.dropped == 1


@pytest.mark.parametrize("line,final,error", [
    ("OK", True, False), ("ERROR", True, True), ("+CME ERROR: 10", True, True),
    ("+CMS ERROR: 500", True, True), ("NO CARRIER", False, False), ("RING", False, False),
    ("OKAY", False, False), ("+CMGS: 12", False, False),
])
def test_final_results(line, final, error):
    assert (is_final(line), is_error(line)) == (final, error)


# "> " is left out: it is a prompt only when it ends a read, which no split-invariance can hold for.
STREAM = st.lists(st.sampled_from([b"\r", b"\n", b"RING", b"OK", b">", b"+CLIP: \"1\",129", b"\xff", b"x"]))


@given(STREAM, st.lists(st.integers(min_value=1, max_value=7), min_size=1))
def test_any_split_gives_the_same_lines(parts, cuts):
    data = b"".join(parts)
    whole = LineFramer().feed(data)
    framer, got, i, k = LineFramer(), [], 0, 0
    while i < len(data):
        n = cuts[k % len(cuts)]
        got += framer.feed(data[i:i + n])
        i, k = i + n, k + 1
    assert got == whole
