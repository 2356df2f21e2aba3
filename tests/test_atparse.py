"""The unsolicited-line parsers: every shape in docs/reference/modems.md ("Caller ID and call
lists"), and garbage never raises."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.at.parse import (
    CallStat,
    Cend,
    Clcc,
    Clip,
    MissedCall,
    Wind,
    parse_ccinfo,
    parse_cend,
    parse_clcc,
    parse_clip,
    parse_cring,
    parse_hangup,
    parse_missed_call,
    parse_ucallstat,
    parse_wind,
    split_fields,
)

NUM = "+15125550142"


@pytest.mark.parametrize("line, expected", [
    # The +CLIP shapes of docs/reference/modems.md, in order: 6 fields (Huawei/generic), SIM800 "" alpha, satype 128
    # with a valid number
    ('+CLIP: "+27821231234",145,,,,0', Clip("+27821231234", 145, 0)),
    (f'+CLIP: "{NUM}",145,"",0,"",0', Clip(NUM, 145, 0)),
    ('+CLIP: "+481239823991",145,"",128,"",0', Clip("+481239823991", 145, 0)),
    # withheld shapes
    ('+CLIP: "",128,"",0,"",1', Clip(None, 128, 1)),
    ('+CLIP: "",128,,,,1', Clip(None, 128, 1)),
    ("+CLIP:,129,,,,1", Clip(None, 129, 1)),
    ('+CLIP: "",128,"",0,"",2', Clip(None, 128, 2)),
    # no space, 2 fields (Wavecom), national number, type 128 with a real number
    (f'+CLIP:"{NUM}",129', Clip(NUM, 129, None)),
    ('+CLIP: "5125550142",145', Clip("5125550142", 145, None)),
    ('+CLIP: "2345640362",128', Clip("2345640362", 128, None)),
    ('+CLIP: "Unknown",128', Clip(None, 128, None)),       # a "number" with no digit
    (f"+CLIP: {NUM},145,,,,0", Clip(NUM, 145, 0)),          # unquoted number
    # corrupted: None, never an exception
    ('+CLIP: "+1512555', None),
    ('+CLIP: "+1512",1x5', None),
    ('+CLIP: "+1512",145,,,,0,9', None),
    ('+CLIP: x"y",145', None),
    ("+CLIP: +1512$$,145", None),
    ("+CLIP", None),
    ("RING", None),
    ("", None),
])
def test_parse_clip(line, expected):
    assert parse_clip(line) == expected


@pytest.mark.parametrize("clip, withheld", [
    (Clip(NUM, 145, 0), False), (Clip(NUM, 128, None), False), (Clip(None, 128, 1), True),
    (Clip(None, 129, None), True), (Clip(None, 128, 2), True), (Clip(NUM, 145, 1), True),
    (Clip(NUM, 145, 2), True),
])
def test_clip_withheld(clip, withheld):
    assert clip.withheld is withheld


@pytest.mark.parametrize("line, expected", [
    (f'+CLCC: 1,1,4,0,0,"{NUM}",145', Clcc(1, 1, 4, 0, 0, NUM, 145)),
    ('+CLCC: 1,0,2,0,0,"phone_number",129,""', Clcc(1, 0, 2, 0, 0, None, 129)),   # SIM800C, #112
    (f'+CLCC: 1,1,4,0,0,"{NUM}",145,"",,0', Clcc(1, 1, 4, 0, 0, NUM, 145)),      # SIM7670
    (f'+CLCC: 1,1,6,0,0,"{NUM}",128', Clcc(1, 1, 6, 0, 0, NUM, 128)),           # SIMCom LTE, 128
    ("+CLCC: 1,1,4,0,0,num,129", Clcc(1, 1, 4, 0, 0, None, 129)),              # author mask
    (f"+CLCC: 1,1,4,0,0,{NUM},145", Clcc(1, 1, 4, 0, 0, NUM, 145)),            # unquoted number
    ("+CLCC: 2,0,0,1,0", Clcc(2, 0, 0, 1, 0, None, None)),                     # PS bearer (mode 1)
    ('+CLCC: 1,1,4,0,0,"",128', Clcc(1, 1, 4, 0, 0, None, 128)),
    ("+CLCC:1,1,0,0,0", Clcc(1, 1, 0, 0, 0, None, None)),
    ("+CLCC: 1,1,4,0", None),
    ("+CLCC: 1,1,x,0,0", None),
    ('+CLCC: 1,1,4,0,0,"+1512', None),
    ("+CLCC: 1,1,4,0,0,+1512,1,2,3,4,5", None),
    ("+CLCCX", None),
    ("+CLCC: 1,1,4,0,0,+1512(5),145", None),
])
def test_parse_clcc(line, expected):
    assert parse_clcc(line) == expected


@pytest.mark.parametrize("line, expected", [
    (f'+QIND: "ccinfo",1,1,4,0,0,"{NUM}",145', Clcc(1, 1, 4, 0, 0, NUM, 145)),
    (f'+QIND: "ccinfo",1,1,6,0,0,"{NUM}",145,0,0', Clcc(1, 1, 6, 0, 0, NUM, 145)),
    ('+QIND: "ccinfo",2,0,0,1,0', Clcc(2, 0, 0, 1, 0, None, None)),
    ('+QIND: "csq",20,99', None),
    ("+QIND: SMS DONE", None),
    ('+QIND: "ccinfo",1', None),
])
def test_parse_ccinfo(line, expected):
    assert parse_ccinfo(line) == expected


@pytest.mark.parametrize("parse, line, expected", [
    (parse_cend, "^CEND:1,0,104,16", Cend(1, 0, 104, 16)),
    (parse_cend, "^CEND:1,35,104", Cend(1, 35, 104, None)),
    (parse_cend, "^CEND: 2,0,29,31", Cend(2, 0, 29, 31)),
    (parse_cend, "^CEND:1", None),
    (parse_cend, "^CEND:1,a,104,16", None),
    (parse_ucallstat, "+UCALLSTAT: 1,4", CallStat(1, 4)),
    (parse_ucallstat, "+UCALLSTAT:1,6", CallStat(1, 6)),
    (parse_ucallstat, "+UCALLSTAT: 1,", None),             # corrupted (u-blox)
    (parse_ucallstat, "+UCALLSTAT: 1,4,7", None),
    (parse_ucallstat, "+UCALLSTAT: \x001,6", None),
    (parse_missed_call, f"MISSED_CALL: 11:53AM {NUM}", MissedCall("11:53AM", NUM)),
    (parse_missed_call, "MISSED_CALL: 01:02PM 5125550142", MissedCall("01:02PM", "5125550142")),
    (parse_missed_call, "MISSED_CALL: 11:53AM", MissedCall("11:53AM", None)),
    (parse_missed_call, "MISSED_CALL: soon", None),
    (parse_hangup, "HANGUP: 1", 1),
    (parse_hangup, "HANGUP:3", 3),
    (parse_hangup, "HANGUP: x", None),
    (parse_wind, "+WIND: 6,1", Wind(6, ("1",))),
    (parse_wind, "+WIND: 4", Wind(4, ())),
    (parse_wind, '+WIND: "6",1', None),
    (parse_cring, "+CRING: VOICE", "VOICE"),
    (parse_cring, "+CRING: GPRS \"IP\",\"10.0.0.1\"", 'GPRS "IP","10.0.0.1"'),
    (parse_cring, "RING", None),
])
def test_parse_vendor_lines(parse, line, expected):
    assert parse(line) == expected


@pytest.mark.parametrize("text, expected", [
    ('"+1512",145,,"x"', [("+1512", True), ("145", False), ("", False), ("x", True)]),
    (",129,,,,1", [("", False), ("129", False), ("", False), ("", False), ("", False), ("1", False)]),
    ('"a",', [("a", True), ("", False)]),
    ('"a', None),
    ('a"b', None),
])
def test_split_fields(text, expected):
    assert split_fields(text) == expected


PARSERS = [parse_clip, parse_clcc, parse_ccinfo, parse_cend, parse_ucallstat, parse_missed_call,
           parse_hangup, parse_wind, parse_cring]
PREFIXES = ["+CLIP:", "+CLCC:", '+QIND: "ccinfo",', "^CEND:", "+UCALLSTAT:", "MISSED_CALL: ",
            "HANGUP:", "+WIND:", "+CRING:", ""]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PREFIXES), st.text(alphabet=st.sampled_from('0123456789,"+ :AMP\x00é\r'), max_size=40)
       | st.text(max_size=40))
def test_parsers_never_raise(prefix, tail):
    for parse in PARSERS:
        parse(prefix + tail)
