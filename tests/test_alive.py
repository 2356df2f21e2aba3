"""What needs a person (gateway.app.alive.problems): the /fail body, one problem a line."""
from dataclasses import replace

import pytest

from gateway.app.alive import Facts, keepalive, problems

CALM = Facts(now=10_000, link="modem", silent_since=None, fail_after=600, unregistered_since=None,
             registration="home network", ims_problem=False, family="ec25", failed_in_a_row=0,
             stuck_since=None, backup_lag=None, backup_problem="", selftest=None)


@pytest.mark.parametrize("change, said", [
    ({}, []),
    ({"silent_since": 10_000 - 600}, []),                       # exactly fail_after: not yet
    ({"silent_since": 10_000 - 601}, ["the modem has not answered for 10m: check its USB cable "
                                      "and power; textback keeps trying"]),
    ({"link": "phone", "silent_since": 9_000}, ["the phone has not answered for 16m: check the "
                                                "phone is on and plugged in, and SMSGate and "
                                                "CallGate run"]),
    ({"unregistered_since": 10_000 - 900}, []),
    ({"unregistered_since": 10_000 - 901, "registration": "registration denied"},
     ["no network for 15m (the modem is registration denied): check the antenna and that the "
      "SIM's line is active"]),
    ({"ims_problem": True}, ['calls will not ring: VoLTE/IMS is not registered: turn IMS on: '
                             'AT+QCFG="ims",1 then AT+CFUN=1,1; if it still does not register, '
                             'select the carrier\'s profile (AT+QMBNCFG="list", then '
                             'AT+QMBNCFG="select",...)']),
    ({"failed_in_a_row": 2}, []),
    ({"failed_in_a_row": 3}, ["texts are failing: the last 3 could not be sent (textback calls "
                              "shows why; check the SIM's credit)"]),
    ({"stuck_since": 10_000 - 1000}, ["texts are not going out: one has waited 16m"]),
    ({"backup_lag": 3600}, []),
    ({"backup_lag": 3700}, ["the backup is 1h behind (nothing copied to the replica since then)"]),
    ({"backup_problem": "cannot write the replica folder /media/usb/textback: Read-only file "
                        "system", "backup_lag": 9999},
     ["the backup is not running: cannot write the replica folder /media/usb/textback: "
      "Read-only file system"]),
    ({"selftest": {"at": 1, "ok": False, "detail": "the test text could not be sent: x"}},
     ["the daily self-test failed: the test text could not be sent: x"]),
    ({"selftest": {"at": 1, "ok": None, "detail": "this network does not deliver"}}, []),
])
def test_problems(change, said):
    assert problems(replace(CALM, **change)) == said


def test_several_problems_one_a_line():
    both = problems(replace(CALM, failed_in_a_row=4, backup_lag=7200))
    assert len(both) == 2 and both[0].startswith("texts are failing")


def test_keepalive_is_often_enough_for_fail_after():
    assert keepalive(600) == 60 and keepalive(10) == 5 and keepalive(100) == 50
