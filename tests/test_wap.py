"""gateway.at.wap: MMS notifications (WAP push over SMS), from real captures and from the specs.

Real captured PDUs, copied as hex test data only (no code): python-messaging
messaging/test/test_wap.py at 8c62c14 (two UK notifications in two parts each, and a German
Service Indication push); SMSGate (capcom6/android-sms-gateway) app/src/test/.../MMSParserTest.kt
at 0cdc5d8 (US m-notification-ind bodies, From as an Encoded-string-value with a charset).
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.at import wap
from gateway.at.inbox import Reassembly, decode
from wapbuild import deliver, notification, push

UK_1 = [
    "0791447758100650400E80885810000000810004016082415464408C0C08049F8E020105040B8423F00106226170"
    "706C69636174696F6E2F766E642E7761702E6D6D732D6D65737361676500AF848C82984E4F4B3543694B636F544D"
    "595347344D4253774141734B7631344655484141414141414141008D908919802B3434373738353334323734392F"
    "545950453D504C4D4E008A808E0274008805810301194083687474703A2F",
    "0791447758100650440E8088581000000081000401608241547440440C08049F8E020205040B8423F02F70726F6D"
    "6D732F736572766C6574732F4E4F4B3543694B636F544D595347344D4253774141734B763134465548414141414141"
    "414100"]
UK_2 = [
    "0791447758100650400E80885810000000800004017002314303408C0C0804DFD3020105040B8423F00106226170"
    "706C69636174696F6E2F766E642E7761702E6D6D732D6D65737361676500AF848C82984E4F4B3541315A6446544D"
    "595347344F3356514141734A763934476F4E4141414141414141008D908919802B3434373731373237353034392F"
    "545950453D504C4D4E008A808E0274008805810303F47F83687474703A2F",
    "0791447758100650440E8088581000000080000401700231431340440C0804DFD3020205040B8423F02F70726F6D"
    "6D732F736572766C6574732F4E4F4B3541315A6446544D595347344F3356514141734A763934476F4E4141414141"
    "41414100"]
SI_PUSH = [
    "0791947122725014440C8500947122921105F5112042519582408C0B05040B8423F0000396020101060B03AE81EA"
    "C3958D01A2B48403056A0A20566F6461666F6E650045C60C037761702E6D65696E63616C6C79612E64652F000801"
    "035A756D206B6F7374656E6C6F73656E20506F7274616C20224D65696E0083000322202D2065696E666163682061"
    "75662064656E20666F6C67656E64656E204C696E6B206B6C69636B656E",
    "0791947122725014440C8500947122921105F5112042519592403C0B05040B8423F00003960202206F6465722064"
    "696520536569746520646972656B7420617566727566656E2E2049687200830003205465616D000101"]
# SMSGate MMSParserTest: m-notification-ind bodies as a phone's WAP push receiver hands them on
# (the last one, from its simpleTest, ends without the End-of-string of its location).
US_BODIES = [
    "8C829874312D505A4A4B6E446F3772008D9389178031393136323235353838372F545950453D504C4D4E008A8088"
    "05810303F47F8E02053983687474703A2F2F7878782E78787878787878782E7878782F6D6D73633F78782D787878"
    "78787878787800",
    "8C82986D2D372D3131322D332D6365663765662D62392D35312D32008D92890F800D833139313632323535383837"
    "008A808E0202838805810303F48083687474703A2F2F78782E782D7878787878782E7878782F6D6D3F543D6D2D78"
    "2D78782D782D7878787878782D7878008680",
    "8C82986D2D362D34632D362D6165343466612D39662D37332D31008D92890F800D83313931363232353538383700"
    "8A808E0202838805810303F48083687474703A2F2F78782E782D7878787878782E7878782F6D6D3F543D782D782D"
    "78782D782D7878787878782D7878008680",
    "8C82986D2D372D34662D372D3864646631352D37642D31312D33008D92890F800D83313931363232353538383700"
    "8A808E0202928805810303F48083687474703A2F2F78782E782D7878787878782E7878782F6D6D3F543D6D2D782D"
    "78782D782D7878787878782D7878008680",
    "8C82986D2D312D34342D382D6430653264382D62622D362D35008D92890F800D833139313632323535383837008A"
    "808E02029E8805810303F48083687474703A2F2F78782E782D7878787878782E7878782F6D6D3F543D6D2D782D78"
    "2D782D7878787878782D7878008680",
    "8C82986964315F31353633393438383430008D928B35386366633664612D3230323530383232303435313434406D"
    "6D73632E6D74732E727500850468A7CD318918802B31393136323235353838372F545950453D504C4D4E008A808E"
    "0400018BD88805810303F48083687474703A2F2F31302E34372E3133332E33352F3F6D6573736167652D69643D31"
    "3536333934383834302669643D31",
]

def joined(pdus) -> tuple:
    parts = Reassembly()
    done = [c for pdu in pdus for c in parts.add(decode(pdu), 0.0)]
    assert len(done) == 1
    return done[0]


@pytest.mark.parametrize("pdus, sender, size, tid", [
    (UK_1, "+447785342749", 29696, "NOK5CiKcoTMYSG4MBSwAAsKv14FUHAAAAAAAA"),
    (UK_2, "+447717275049", 29696, "NOK5A1ZdFTMYSG4O3VQAAsJv94GoNAAAAAAAA"),
])
def test_captured_notifications(pdus, sender, size, tid):
    message = joined(pdus)
    assert message.port == 2948
    found = wap.read(message.data)
    assert found == wap.Push(content_type=wap.MMS, message_type=0x82, sender=sender, size=size,
                             transaction=tid, location=f"http://promms/servlets/{tid}")


def test_a_service_indication_is_not_a_picture():
    found = wap.read(joined(SI_PUSH).data)
    assert (found.content_type, found.is_mms, found.problem) == (
        "application/vnd.wap.sic", False,
        "a WAP push of application/vnd.wap.sic, not a picture message")


@pytest.mark.parametrize("body", US_BODIES)
def test_smsgate_captured_bodies(body):
    found = wap.read(push(bytes.fromhex(body)))
    assert (found.problem, found.sender.lstrip("+"), found.location[:7]) == (
        None, "19162255887", "http://")


def test_built_from_the_specs():
    found = wap.read(push(notification(subject="Leak under sink ☂", size=1_234_567)))
    assert found == wap.Push(content_type=wap.MMS, message_type=0x82, sender="+15125550142",
                             size=1_234_567, subject="Leak under sink ☂", transaction="T1a2b3c4",
                             location="http://mms.example.net/m/T1a2b3c4")
    # the content type written out as text (python-messaging's captures do that) reads the same
    as_text = push(notification(), content_type=b"application/vnd.wap.mms-message\x00")
    assert wap.read(as_text).sender == "+15125550142"
    # and in the general form: Value-length, well-known type, a charset parameter
    general = push(notification(), content_type=bytes([0x03, 0xBE, 0x81, 0xEA]))
    assert wap.read(general).sender == "+15125550142"


@pytest.mark.parametrize("kwargs, expected", [
    ({"hidden": True}, {"hidden": True, "sender": None, "problem": None}),
    ({"sender": None}, {"hidden": False, "sender": None, "problem": None}),
    ({"location": None}, {"problem": "it has no X-Mms-Content-Location"}),
])
def test_senders_hidden_or_missing_and_no_location(kwargs, expected):
    found = wap.read(push(notification(**kwargs)))
    assert {key: getattr(found, key) for key in expected} == expected


def test_every_cut_is_said_never_raised():
    whole = push(notification(subject="x"))
    location = whole.index(b"http://")
    for end in range(len(whole)):
        found = wap.read(whole[:end])
        # cut before the location: said; cut inside it (the last header): read to the end, as
        # Android's PduParser does
        assert bool(found.problem) == (end <= location), (end, found)


@pytest.mark.parametrize("data, problem", [
    (bytes([0x01, 0x44]), "not a WAP push (WSP PDU type 0x44)"),
    (bytes([0x01, 0x06, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
     "it is malformed: a length (uintvar) longer than 5 octets"),
    (push(bytes([0x98]) + b"abc\x00"), "it is malformed: its first header is not X-Mms-Message-Type"),
    (push(bytes([0x8C, 0x86, 0x98]) + b"x\x00"), "an MMS message of type 0x86, not a notification of a new one"),
])
def test_malformed(data, problem):
    assert wap.read(data).problem == problem


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_never_raise(data):
    found = wap.read(data)
    assert found.problem or found.location


def test_the_sms_layer_reads_port_and_bytes():
    received = decode(deliver(push(notification())))
    assert (received.port, received.number) == (2948, "+15125550142")
    assert wap.read(received.data).sender == "+15125550142"
