"""What a text from a lead says about consent: opt out (STOP), opt back in (START), or HELP. Pure.

The words are data (the tables below), walked by short code. Sources, in our own words in
docs/reference/consent.md:
- 47 CFR 64.1200(a)(10), added by the FCC's 2024 consent-revocation order (FCC 24-24, 89 FR 15756,
  in force from 11 April 2025): "stop", "quit", "end", "revoke", "opt out", "cancel" and
  "unsubscribe" in reply to a text revoke consent, and so do other words "if a reasonable person
  would understand those words to have conveyed a request to revoke consent".
- 47 CFR 64.1200(a)(12): one confirmation text, with no marketing, within five minutes.
- CTIA's messaging principles: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; HELP gets an answer
  naming the sender; START (and UNSTOP) opts back in.

How a message is read: case, accents, full-width letters, punctuation, emoji and apostrophes do not
matter ("STOP!!!", "Stop.", "don't" = "dont"). A keyword opts out when it is the whole message,
maybe with politeness around it ("stop please", "STOP STOP", "unsubscribe me"). A plain-language
phrase opts out wherever it stands in the message ("ok thanks, stop texting me"), unless a
negation comes just before it ("please don't stop texting me", "this isn't a wrong number").
A keyword with other words around it is not an opt-out: "can you stop by at 3", "cancel my
appointment" (the object is the visit, not the texts: a reasonable person reads it as about the
job; the owner gets the message as any reply and can answer it), "the end of the day works".
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

STOP, START, HELP = "stop", "start", "help"

# A whole message that is one of these (after normalising) is that keyword. Opt-out: the FCC's
# seven words (a)(10), CTIA's STOPALL, and the everyday Spanish ones a US contractor's callers use
# ("alto", "parar", "cancelar"). Opt-in: START, UNSTOP. YES is deliberately not one: "Yes" alone
# is an ordinary answer to the owner. Help: HELP, INFO (CTIA).
KEYWORDS: dict[str, str] = {
    **dict.fromkeys(("stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit",
                     "revoke", "optout", "opt out", "alto", "parar", "cancelar"), STOP),
    **dict.fromkeys(("start", "unstop"), START),
    **dict.fromkeys(("help", "info"), HELP),
}

# Words that may stand around an opt-out keyword without changing what it means ("stop please",
# "STOP STOP", "stop now thanks", "unsubscribe me"). Not "it": "cancel it" answers "see you
# Thursday at 9" (the visit); "stop it" and "quit it" are phrases below.
FILLER = frozenset(("please", "pls", "plz", "now", "thanks", "thank", "you", "thx", "ty", "ok",
                    "okay", "just", "asap", "already", "immediately", "right", "away", "sorry",
                    "me", "all", "por", "favor"))

# Plain-language opt-outs, as regular expressions over the normalised words (one space between).
# Each is matched anywhere in the message, as whole words.
_THEM = r"(?:me|us|this number|my number)"
_TEXTS = r"(?:texts?|txts?|messages?|msgs?|sms)"
PHRASES: tuple[str, ...] = (
    r"stop it", r"quit it",
    rf"stop (?:texting|txting|texing|messaging|msging|contacting|bothering|calling|spamming)"
    rf"(?: {_THEM})?",
    rf"stop sending (?:me )?(?:the |these |those |your )?{_TEXTS}",
    rf"(?:dont|do not|never) (?:text|txt|message|msg|contact|sms) {_THEM}",
    rf"no more {_TEXTS}", rf"(?:stop|no) (?:the |these |those |your )?{_TEXTS}(?: please)?$",
    # "remove me" / "take me off" only when nothing follows but a list: "remove me from the
    # schedule" is about the visit.
    rf"remove {_THEM}(?: from (?:your|the|this|ur) (?:list|contacts|contact list|{_TEXTS}|"
    rf"text list|texting list|mailing list|system))?$",
    rf"remove {_THEM} from (?:your|the|this|ur) (?:list|contacts|contact list|text list|"
    rf"texting list|mailing list|system)",
    rf"take {_THEM} off(?: (?:your|the|this|ur) (?:list|contacts|contact list|text list|"
    rf"texting list|mailing list))?$",
    rf"take {_THEM} off (?:your|the|this|ur) (?:list|contacts|contact list|text list|texting list|"
    rf"mailing list)",
    r"(?:unsubscribe|opt) me(?: out)?", r"opt out of", r"wrong (?:number|person)",
    r"leave me alone", r"lose (?:my|this) number",
    # Spanish (reasonable-person standard: a Spanish speaker's "no more messages")
    r"no mas (?:mensajes|textos)", r"no me (?:escribas|escriban|mandes|manden|envies|envien)",
    r"numero equivocado",
)
# A phrase right after one of these means the opposite ("don't stop texting me", "not the wrong
# number"). "no" is not one: "no, stop texting me" is an opt-out.
NEGATIONS = frozenset(("dont", "not", "never", "isnt", "wasnt", "aint", "didnt", "wont", "nunca"))
NEGATION_REACH = 4  # words before a phrase, in its clause, that may hold its negation
# Punctuation that ends a clause: a negation never reaches across it ("I don't need you, stop
# texting me" opts out; "I don't want you to stop texting me" does not).
CLAUSE_ENDS = re.compile(r"[.,;:!?\n]+")

_PHRASES = tuple(re.compile(rf"(?<![a-z0-9]){p}(?![a-z0-9])") for p in PHRASES)


@dataclass(frozen=True)
class Consent:
    kind: str      # STOP, START or HELP
    matched: str   # the keyword or phrase, normalised ("stop", "stop texting me")


def normalise(text: str) -> str:
    """Lower case words separated by one space: accents, width, punctuation, emoji and
    apostrophes gone ("Don’t TEXT me!!! 🛑" -> "dont text me")."""
    folded = unicodedata.normalize("NFKD", text).casefold()
    out = []
    for ch in folded:
        kind = unicodedata.category(ch)
        if kind == "Mn":                      # accents (NFKD split them off)
            continue
        if ch in "'’‘`´ʼ":                    # "don't" -> "dont"
            continue
        out.append(ch if kind[0] in "LN" else " ")
    return " ".join("".join(out).split())


def read(text: str) -> Consent | None:
    """The consent a message expresses, or None for an ordinary message."""
    words = normalise(text)
    if not words:
        return None
    if words in KEYWORDS:
        return Consent(KEYWORDS[words], words)
    core = [w for w in words.split() if w not in FILLER]
    for keyword, kind in KEYWORDS.items():   # "stop please", "STOP STOP", "opt out now"
        size = len(keyword.split())
        if kind == STOP and core and core == keyword.split() * (len(core) // size):
            return Consent(STOP, keyword)
    for clause in filter(None, map(normalise, CLAUSE_ENDS.split(text))):
        for pattern in _PHRASES:
            for match in pattern.finditer(clause):
                before = clause[:match.start()].split()[-NEGATION_REACH:]
                if match.group().split()[0] in NEGATIONS or not NEGATIONS & set(before):
                    return Consent(STOP, match.group())
    return None


def keyword(text: str) -> str | None:
    """STOP, START or HELP when the message says so (the words and phrases above, and not the
    near misses); None for an ordinary message."""
    consent = read(text)
    return consent.kind if consent else None
