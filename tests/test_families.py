"""Modem families: detection from +CGMI/+CGMM, and the table's consistency with the tracker and the sim."""
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.at import families
from gateway.at.families import FAMILIES, GENERIC, READERS, detect, get
from gateway.simulator import commands


@pytest.mark.parametrize("cgmi, cgmm, name", [
    # the simulator's exact answers (DESIGN: one per family)
    ("Generic", "GSM MODEM", "generic"),
    ("SIMCOM_Ltd", "SIMCOM_SIM800L", "sim800"),
    ("SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H", "sim7600"),
    ("Quectel", "EC25", "ec25"),
    ("huawei", "MU709s-2", "huawei"),
    ("u-blox", "LARA-R211", "ublox"),
    ("ZTE CORPORATION", "MF626", "zte"),
    ("WAVECOM MODEM", "MULTIBAND  900E  1800", "wavecom"),
    # real-world variants
    ("SIMCOM_Ltd", "SIMCOM_SIM900", "sim800"),
    ("SIMCOM_Ltd", "SIMCOM_SIM868", "sim800"),
    ("SIMCOM INCORPORATED", "SIMCOM_SIM7000E", "sim7600"),
    ("SIMCOM INCORPORATED", "A7670E-LASE", "sim7600"),
    ("SIMCOM INCORPORATED", "A7682E", "sim7600"),
    ("Quectel", "EG25", "ec25"),
    ("QUECTEL", "EC21", "ec25"),
    ("", "EG25", "ec25"),
    ("Huawei Technologies Co., Ltd.", "E173", "huawei"),
    ("u-blox", "SARA-U201", "ublox"),
    ("", "LARA-R6801", "ublox"),
    ("ZTE INCORPORATED", "MF190", "zte"),
    ("Acme Radio", "AR-100", "generic"),   # a maker no family knows
    ("", "", "generic"),
    ("SIMCOM_Ltd", "", "generic"),        # a SIMCom whose model we cannot place: poll, like generic
])
def test_detect(cgmi, cgmm, name):
    assert detect(cgmi, cgmm).name == name


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_detect_recognises_every_family_by_its_own_name(name):
    """The simulated modem answers with the family's identity: detection must place it."""
    me = FAMILIES[name].identity
    assert detect(me.manufacturer, me.model) is FAMILIES[name]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_is_a_delta_on_generic(name):
    family = get(name)
    assert family.name == name
    assert family.urcs[:len(GENERIC.urcs)] == GENERIC.urcs
    assert all(prefix in READERS for prefix in family.urcs), "every URC prefix needs a reader"
    assert family.ring_interval >= 5.0        # the fastest documented voice cadence (Huawei, Telit)
    assert all(cmd.startswith("AT") for cmd in family.init)


@pytest.mark.parametrize("name, init, ring_interval, extra_urcs", [
    ("generic", (), 6.0, ()),
    ("sim800", ("AT+CLCC=1",), 6.0, ()),
    ("sim7600", ("AT+CLCC=1",), 7.0, ("VOICE CALL:", "MISSED_CALL:")),
    ("ec25", ('AT+QINDCFG="ccinfo",1',), 6.0, ('+QIND: "ccinfo"',)),
    ("huawei", (), 5.0, ("^CEND:", "^CONN:")),
    ("ublox", ("AT+UCALLSTAT=1",), 6.0, ("+UCALLSTAT:",)),
    ("zte", (), 6.0, ("HANGUP:",)),
    ("wavecom", ("AT+WIND=32",), 6.0, ("+WIND:",)),
])
def test_family_table(name, init, ring_interval, extra_urcs):
    family = get(name)
    assert (family.init, family.ring_interval, family.urcs) == (init, ring_interval, GENERIC.urcs + extra_urcs)


@pytest.mark.parametrize("name", ["", "auto", "SIM800", "quectel", "sim900"])
def test_get_unknown_raises_keyerror(name):
    with pytest.raises(KeyError):
        get(name)


def test_simulated_family_commands_exist_in_the_sim():
    """Each init command is one the simulator answers, so `make demo` exercises it."""
    for name, family in FAMILIES.items():
        answers, settings = commands.answers_for(family), commands.settings_for(family)
        for cmd in family.init:
            key, head, _, _ = commands.parse_command(cmd)
            assert key in answers or head in settings, (name, cmd)


def test_tracker_modules_import_nothing_heavy():
    """`textback --help` must not pay for sqlite_utils, rich, gsmmodem or phonenumbers (STYLE, Imports)."""
    code = ("import sys, gateway.at.parse, gateway.at.families, gateway.at.tracker; "
            "print(sorted(m for m in ('sqlite_utils', 'rich', 'gsmmodem', 'phonenumbers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(families.__file__).parent.parent)
    assert out.stdout == "[]\n"
