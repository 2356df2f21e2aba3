"""Shared fixtures: the simulated modem on a real pty, opened with pyserial as the daemon opens it."""
from __future__ import annotations

import contextlib

import pytest
import serial

from gateway.clock import VirtualClock
from gateway.modem import Session
from gateway.scenario import Reply, Step
from gateway.sim import SimModem

START = 1_800_000_000.0  # any epoch works: the virtual clock starts here


@contextlib.contextmanager
def sim_session(family="generic", steps=(), replies=(), **sim_options):
    """(sim, session, clock): a Session on a pyserial port over the sim's pty, on a virtual clock."""
    sim = SimModem(family, steps=[Step(*s) if isinstance(s, tuple) else s for s in steps],
                   replies=[Reply(*r) if isinstance(r, tuple) else r for r in replies], **sim_options)
    port = serial.Serial(sim.port_name, 115200, timeout=0)
    clock = VirtualClock(START, sim)
    try:
        yield sim, Session(port, clock), clock
    finally:
        port.close()
        sim.close()


@pytest.fixture
def session_factory():
    return sim_session
