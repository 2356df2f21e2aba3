"""The replay scenario format (docs/design.md, "Contract: replay"): whole records out, exact errors."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from gateway.at.families import FAMILIES
from gateway.errors import ConfigError
from gateway.simulator.scenario import InboundSms, Reply, Scenario, Step, load, parse

DESIGN_EXAMPLE = {
    "start": "2026-11-28T10:00:00-06:00",
    "family": "sim800",
    "steps": [
        {"at": 0.0, "rx": "RING"},
        {"at": 0.05, "rx": "+CLIP: \"+15125550142\",145,\"\",0,\"\",0"},
        {"at": 5.0, "rx": "RING"},
        {"at": 9.5, "rx": "NO CARRIER"},
    ],
    "replies": [{"match": "AT+CMGS", "rx": ["+CMS ERROR: 500"], "times": 1}],
}
CST = timezone(timedelta(hours=-6))


def test_design_example_loads_from_a_file(tmp_path):
    path = tmp_path / "missed.json"
    path.write_text(json.dumps(DESIGN_EXAMPLE))
    assert load(path) == Scenario(
        start=datetime(2026, 11, 28, 10, 0, tzinfo=CST),
        family="sim800",
        steps=(Step(0.0, "RING"), Step(0.05, '+CLIP: "+15125550142",145,"",0,"",0'), Step(5.0, "RING"),
               Step(9.5, "NO CARRIER")),
        replies=(Reply("AT+CMGS", ("+CMS ERROR: 500",), 1),),
    )


def test_minimal_sorted_stable_and_sms():
    got = parse({"start": "2026-11-28T16:00:00Z", "steps": [
        {"at": 5, "rx": "B"}, {"at": 1, "rx": "A"}, {"at": 5, "rx": "C"},
        {"at": 2, "sms": {"from": "+15125550142", "text": "STOP"}},
    ], "replies": [{"match": "AT+CSQ", "rx": []}]})
    assert got == Scenario(
        start=datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc), family=None,
        steps=(Step(1.0, "A"), Step(2.0, "", InboundSms("+15125550142", "STOP")), Step(5.0, "B"),
               Step(5.0, "C")),
        replies=(Reply("AT+CSQ", (), None),),
    )


@pytest.mark.parametrize("extra, line_end, chunk", [
    ({}, "\r\n", None),
    ({"line_end": "\r\r\n"}, "\r\r\n", None),
    ({"line_end": "\r", "chunk": 1}, "\r", 1),
    ({"line_end": "\r\n", "chunk": 64}, "\r\n", 64),
])
def test_framing_options(extra, line_end, chunk):
    got = parse({"start": "2026-11-28T16:00:00Z", "steps": [{"at": 0, "rx": "RING"}], **extra})
    assert got == Scenario(start=datetime(2026, 11, 28, 16, 0, tzinfo=timezone.utc), family=None,
                           steps=(Step(0.0, "RING"),), replies=(), line_end=line_end, chunk=chunk)


@pytest.mark.parametrize("extra, end_lines", [({}, True), ({"end_lines": True}, True), ({"end_lines": False}, False)])
def test_end_lines_option(extra, end_lines):
    got = parse({"start": "2026-11-28T16:00:00Z", "steps": [{"at": 0, "rx": "RING"}], **extra})
    assert got.end_lines is end_lines


def broken(**changes):
    obj = json.loads(json.dumps(DESIGN_EXAMPLE))
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        target = obj
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return obj


@pytest.mark.parametrize("obj, message", [
    ([], "s.json: must be a JSON object with \"start\" and \"steps\""),
    (broken(steps__3__at=-1), "s.json: steps[3].at: must be a number >= 0"),
    (broken(steps__3__at="9.5"), "s.json: steps[3].at: must be a number >= 0"),
    (broken(steps__0__at=True), "s.json: steps[0].at: must be a number >= 0"),
    (broken(steps__0__at=float("nan")), "s.json: steps[0].at: must be a number >= 0"),
    # "at": 1e12 once made a replay run for ever
    (broken(steps__3__at=1e12), "s.json: steps[3].at: 1e+12 s is more than 7 days after start "
                                "(at most 604800 s); a replay plays at most a week"),
    (broken(steps__3__at=604800.5), "s.json: steps[3].at: 604800.5 s is more than 7 days after "
                                    "start (at most 604800 s); a replay plays at most a week"),
    (broken(steps__1__rx=7), "s.json: steps[1].rx: must be a string (one line the modem sends)"),
    (broken(steps__1__rx="RING\r\nRING"), "s.json: steps[1].rx: must be one line: split it into several entries"),
    (broken(steps__1__rx='+CLIP: "\ud83d",145'), "s.json: steps[1].rx: holds a lone surrogate "
     "(U+D83D), which no modem can send; write the whole character"),
    (broken(steps__2__tx="AT"), "s.json: steps[2].tx: unknown key (known: at, rx, sms)"),
    (broken(steps__2__rx=KeyError),
     "s.json: steps[2]: needs exactly one of \"rx\" (a line the modem sends) or \"sms\" (a text it receives)"),
    (broken(steps__2="RING"), "s.json: steps[2]: must be an object {\"at\": seconds, \"rx\": line}"),
    (broken(steps={}), "s.json: steps: must be a list of {\"at\": seconds, \"rx\": line}"),
    (broken(steps=KeyError), "s.json: steps: must be a list of {\"at\": seconds, \"rx\": line}"),
    (broken(start="2026-11-28T10:00:00"),
     "s.json: start: must include a UTC offset (\"-06:00\" or \"Z\"): '2026-11-28T10:00:00'"),
    (broken(start="next tuesday"), "s.json: start: not an ISO 8601 time: 'next tuesday'"),
    (broken(start=KeyError),
     "s.json: start: must be an ISO 8601 time with a UTC offset, e.g. \"2026-11-28T10:00:00-06:00\""),
    (broken(family="sim900"), f"s.json: family: must be one of {', '.join(FAMILIES)} (or left out), "
                              "not 'sim900'"),
    (broken(speed=2), ("s.json: speed: unknown key "
                       "(known: chunk, description, end_lines, family, line_end, replies, start, steps)")),
    (broken(line_end="\n"), 's.json: line_end: must be one of "\\r\\n", "\\r\\r\\n", "\\r" '
                             '(how the modem ends its lines), not "\\n"'),
    (broken(line_end=None), 's.json: line_end: must be one of "\\r\\n", "\\r\\r\\n", "\\r" '
                            '(how the modem ends its lines), not null'),
    *[(broken(chunk=bad), "s.json: chunk: must be a whole number >= 1 (bytes per write), or left out")
      for bad in (0, True, "1", 2.0)],
    *[(broken(end_lines=bad), "s.json: end_lines: must be true (the default) or false (the modem never "
                              "sends the lines that end a call)") for bad in (0, "false", None)],
    (broken(replies="none"), "s.json: replies: must be a list of {\"match\": ..., \"rx\": [...]}"),
    (broken(replies__0__match=""),
     "s.json: replies[0].match: must be a non-empty string, the start of a host command (\"AT+CMGS\")"),
    (broken(replies__0__rx="OK"), "s.json: replies[0].rx: must be a list of lines ([] for no answer at all)"),
    (broken(replies__0__rx=["OK", 1]), "s.json: replies[0].rx[1]: must be a string (one line the modem sends)"),
    (broken(replies__0__times=0), "s.json: replies[0].times: must be a whole number >= 1, or null for always"),
    (broken(replies__0__times=1.5), "s.json: replies[0].times: must be a whole number >= 1, or null for always"),
    (broken(steps__0={"at": 1, "sms": {"from": "mum", "text": "hi"}}),
     "s.json: steps[0].sms.from: must be a phone number string such as \"+15125550142\""),
    (broken(steps__0={"at": 1, "sms": {"from": "+1555", "text": None}}), "s.json: steps[0].sms.text: must be a string"),
])
def test_bad_scenarios_name_the_place(obj, message):
    with pytest.raises(ConfigError) as caught:
        parse(obj, source="s.json")
    assert str(caught.value) == message


@pytest.mark.parametrize("content, message", [
    ('{"start": "2026-11-28T10:00:00Z",\n "steps": [,]}',
     "{path}: line 2 column 12: not valid JSON: Expecting value"),
    (None, "{path}: cannot read the scenario: [Errno 2] No such file or directory: '{path}'"
           "\n  -> give the path of a replay scenario JSON file"),
])
def test_load_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "scenario.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value) == message.format(path=path)


@pytest.mark.parametrize("sms, message", [
    ({"pdu": "0791zz"}, "steps[0].sms.pdu: must be an SMS-DELIVER PDU in hex"),
    ({"pdu": "079"}, "steps[0].sms.pdu: must be an SMS-DELIVER PDU in hex"),
    ({"pdu": "07914477"}, "steps[0].sms.pdu: ends inside its SMSC field"),
    ({"pdu": "00" * 300}, "steps[0].sms.pdu: must be an SMS-DELIVER PDU in hex"),
    ({"pdu": "0004", "from": "+15125550142"}, "steps[0].sms: \"pdu\" stands alone"),
    ({"pdu": 7}, "steps[0].sms.pdu: must be an SMS-DELIVER PDU in hex"),
])
def test_a_raw_pdu_step_is_checked(sms, message):
    with pytest.raises(ConfigError) as info:
        parse({"start": "2026-11-24T10:00:00-06:00", "steps": [{"at": 0, "sms": sms}]})
    assert message in str(info.value)


def test_a_raw_pdu_step_loads():
    scen = parse({"start": "2026-11-24T10:00:00-06:00",
                  "steps": [{"at": 1, "sms": {"pdu": "0004abcd"}}]})
    assert scen.steps[0].sms == InboundSms(number="", text="", pdu="0004ABCD")
