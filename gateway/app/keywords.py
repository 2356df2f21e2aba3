"""The consent keywords a caller may text (STOP, START, HELP), spotted in a whole message. Pure."""
from __future__ import annotations

import re
import unicodedata

# Keywords alone in a message, after case folding. Opt-out: STOP, STOPALL, UNSUBSCRIBE, CANCEL,
# END, QUIT are the carriers' and aggregators' standard set (CTIA short code practice; Twilio's
# defaults). The FCC's 2024 TCPA consent-revocation order (FCC 24-24, 47 CFR
# 64.1200(a)(10)) names "revoke" and "opt out" too, so they count: missing an opt-out is the
# worse error. Opt-in: START and UNSTOP only. YES is deliberately not one: aggregators add it for
# marketing double opt-in, but here "Yes" alone is an ordinary answer to the owner ("Still need a
# hand?"), and coming back after an explicit STOP should take the word the confirmation names.
# Help: HELP and INFO (CTIA: HELP gets a reply naming the sender).
KEYWORDS = {
    **dict.fromkeys(("stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit",
                     "revoke", "optout", "opt out"), "stop"),
    **dict.fromkeys(("start", "unstop"), "start"),
    **dict.fromkeys(("help", "info"), "help"),
}

# Between words of a keyword ("opt-out", "stop  all"): whitespace, hyphens, underscores.
_JOINERS = re.compile(r"[\s\-_]+")


def keyword(text: str) -> str | None:
    """"stop", "start" or "help" when the message is that keyword alone; None otherwise.

    Any case, full-width letters, and punctuation, symbols or emoji around it are tolerated
    ("Stop.", " STOP!! 🛑", "opt-out"); other words are not ("please stop by at 3").
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(folded)
    while start < end and _is_padding(folded[start]):
        start += 1
    while end > start and _is_padding(folded[end - 1]):
        end -= 1
    return KEYWORDS.get(_JOINERS.sub(" ", folded[start:end]))


def _is_padding(ch: str) -> bool:
    # Punctuation (P*), symbols and emoji (S*), separators (Z*), controls and format characters
    # such as the emoji variation selector and zero-width joiner (C*), combining marks (M*).
    return ch.isspace() or unicodedata.category(ch)[0] in "PSZCM"
