"""+CMS ERROR codes (3GPP TS 27.005 3.2.5): which failed sends are worth a retry. Pure.

Policy for +CMS ERROR codes: a failure is *permanent* only when sending the same PDU to the same
number is known to fail the same way again (the number does not exist or may not be texted, the
network refuses the service, our PDU is malformed, the SIM has no SMSC). Everything else, unknown
and vendor codes included, is retried with backoff: attempts are bounded (gateway.app.outbox
MAX_ATTEMPTS), and a
contractor would rather a caller got a late text than none.

Codes 0-127 are RP-cause values relayed from the network (3GPP TS 24.011 8.2.5.4 and annex E, as
27.005 3.2.5 says); 300-511 are 27.005 3.2.5's own; 512+ are manufacturer codes.
"""
from __future__ import annotations

RETRY = "retry"
PERMANENT = "permanent"

# code -> why it is permanent. Not listed means retry.
PERMANENT_CMS: dict[int, str] = {
    # 24.011 annex E (RP-cause)
    1: "unassigned (unallocated) number: the number does not exist",
    8: "operator determined barring: our subscription may not send SMS (e.g. out of credit)",
    10: "call barred: outgoing SMS barred for our SIM",
    21: "short message transfer rejected: the receiving side refuses it without being busy (E.2)",
    28: "unidentified subscriber: the network does not know our SIM; needs the operator",
    29: "facility rejected: the network refuses the SMS service requested",
    30: "unknown subscriber: the destination is not a subscriber (HLR)",
    50: "requested facility not subscribed: our plan has no SMS",
    69: "requested facility not implemented",
    95: "semantically incorrect message: our PDU, it would fail again",
    96: "invalid mandatory information: our PDU, it would fail again",
    97: "message type non-existent or not implemented",
    99: "information element non-existent or not implemented",
    # 27.005 3.2.5
    303: "operation not supported by the modem",
    304: "invalid PDU mode parameter: our PDU, it would fail again",
    305: "invalid text mode parameter",
    321: "invalid memory index: names a storage slot; cannot be fixed by waiting",
    330: "SMSC address unknown: the SIM has no service centre number (fix with AT+CSCA)",
}
# Deliberately retried although they look final:   38 network out of order, 41 temporary failure, 42
# congestion, 47 resources unavailable: the      network's own words are "temporary" (24.011 annex
# E); 38 may last long, hence the backoff.   27 destination out of order: the handset is off or out
# of coverage now, not forever.   111 protocol error unspecified, 127 interworking unspecified: says
# nothing about the number;      a bounded retry costs a few minutes at most.   320 memory failure,
# 322 memory full: storage state, which the inbox drains; 300-302, 310-318:      modem/SIM state
# (not ready, busy, PIN), 331/332 no network/timeout, 340, 500 unknown.   512 weak signal / MM
# establishment failure, 513 lower layer failure, 514 congestion, 515 init      in progress
# (smstools3 notes; docs/reference/modems.md, "Sending a text"), 350 (vendor, seen in the field).


def classify_cms(code: int | None) -> str:
    """RETRY or PERMANENT for a +CMS ERROR code; None (no code, a timeout, plain ERROR) retries."""
    return PERMANENT if code in PERMANENT_CMS else RETRY
