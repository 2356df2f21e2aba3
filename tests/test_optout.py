"""gateway.app.keywords: the words that opt a lead out (47 CFR 64.1200(a)(10), CTIA), the plain-language
ones, and the near misses that must not. docs/reference/consent.md says why each way."""
import pytest

from gateway.app.keywords import FILLER, KEYWORDS, PHRASES, STOP, normalise, read

# The FCC's seven (a)(10) words and CTIA's STOPALL, as the issue lists them, each as the whole
# message in every case and with the punctuation people add.
FCC_WORDS = ["STOP", "QUIT", "END", "REVOKE", "OPT OUT", "CANCEL", "UNSUBSCRIBE", "STOPALL"]


@pytest.mark.parametrize("word", FCC_WORDS)
@pytest.mark.parametrize("shape", ["{}", "{}.", "{}!!!", " {} ", "“{}”", "{} 🛑", "{} please",
                                   "please {}", "{} {}", "{} now"])
@pytest.mark.parametrize("case", [str.upper, str.lower, str.title])
def test_every_fcc_word_opts_out_whatever_the_case_and_punctuation(word, shape, case):
    text = shape.format(case(word), case(word))
    assert read(text).kind == STOP


@pytest.mark.parametrize("text, matched", [
    ("stop texting me", "stop texting me"), ("Stop texting me!", "stop texting me"),
    ("Please stop texting me", "stop texting me"), ("ok thanks, stop texting me", "stop texting me"),
    ("I dont need you, stop texting me", "stop texting me"),
    ("no, stop texting me", "stop texting me"), ("stop messaging me", "stop messaging me"),
    ("Stop calling me", "stop calling me"), ("stop sending me texts", "stop sending me texts"),
    ("remove me", "remove me"), ("Remove me from your list", "remove me from your list"),
    ("please remove my number", "remove my number"), ("take me off your list", "take me off your list"),
    ("don't text me", "dont text me"), ("Don’t text me", "dont text me"),
    ("DO NOT TEXT ME", "do not text me"), ("never text me again", "never text me"),
    ("don't text me, call me after 5", "dont text me"),
    ("wrong number", "wrong number"), ("Sorry, wrong number!", "wrong number"),
    ("you have the wrong number", "wrong number"), ("WRONG NUMBER", "wrong number"),
    ("no more texts", "no more texts"), ("No texts please", "no texts please"),
    ("unsubscribe me", "unsubscribe"), ("opt me out", "opt out"), ("Opt-Out", "opt out"),
    ("OPTOUT", "optout"), ("stop all", "stop all"), ("STOP STOP STOP", "stop"),
    ("leave me alone", "leave me alone"), ("Stop it", "stop it"), ("ＳＴＯＰ", "stop"),
    ("No más mensajes", "no mas mensajes"), ("ALTO", "alto"), ("número equivocado", "numero equivocado"),
])
def test_plain_language_opt_outs(text, matched):
    assert read(text).kind == STOP
    assert read(text).matched == matched


# Near misses: a keyword in an ordinary sentence. None of these opts out; each reaches the owner as
# any reply does. "cancel my appointment" is about the visit, not the texts (consent.md).
@pytest.mark.parametrize("text", [
    "don't stop", "Don't stop!", "can you stop by at 3", "please stop by at 3", "stop by tomorrow",
    "cancel my appointment", "Can I cancel my appointment?", "cancel it", "I quit my job",
    "I quit", "the end of the day works", "When does the job end?", "end of the week is fine",
    "please don't stop texting me", "I don't want you to stop texting me",
    "this isn't the wrong number", "It's not a wrong number, I need a plumber",
    "remove me from the schedule for thursday", "can you remove the old water heater",
    "take the old tank off", "stop sending the bill to my old address", "stopped leaking",
    "help me", "yes", "YES!", "start the job Monday", "information", "S T O P", "st op", "",
    "   ", "?!", "🛑", "unsubscribed?",
])
def test_near_misses_do_not_opt_out(text):
    consent = read(text)
    assert consent is None or consent.kind != STOP, consent


@pytest.mark.parametrize("text, kind", [("START", "start"), ("Unstop", "start"), ("start.", "start"),
                                        ("HELP", "help"), ("help?", "help"), ("Info", "help")])
def test_start_and_help_only_alone(text, kind):
    assert read(text).kind == kind
    assert read(f"{text} please") is None or read(f"{text} please").kind != kind


def test_normalise():
    assert normalise("Don’t TEXT me!!! 🛑") == "dont text me"
    assert normalise("  É\u0301ND\t") == "end"
    assert normalise("opt-out_please") == "opt out please"


def test_the_lists_are_data_and_consistent():
    # Every opt-out keyword stays an opt-out with politeness around it; no filler word is itself a
    # keyword or begins a phrase (that would make "please" alone an opt-out).
    for word, kind in KEYWORDS.items():
        if kind == STOP:
            assert read(f"please {word} thanks").kind == STOP, word
    for word in FILLER:
        assert word not in KEYWORDS and read(word) is None, word
    assert len(PHRASES) == len(set(PHRASES))


def test_ten_thousand_characters_is_an_ordinary_message_or_an_opt_out_not_a_crash():
    assert read("x" * 10_000) is None
    assert read("a" * 10_000 + " stop texting me") .kind == STOP
    assert read("stop " * 2_000).kind == STOP


def test_the_confirmation_goes_within_five_minutes_or_not_at_all(tmp_path):
    """47 CFR 64.1200(a)(12): one confirmation, within five minutes of the request. Held up longer
    (the modem away), it is refused when due, not sent late."""
    from types import SimpleNamespace

    from gateway import config as config_mod
    from gateway.app.conversation import Conversation
    from gateway.app.daemon import Counters
    from gateway.app.store import Store
    from gateway.clock import iso
    from gateway.starter import write_starter

    write_starter(tmp_path)
    cfg = config_mod.load(tmp_path / "textback.toml")
    store = Store(tmp_path / "t.db")
    now = [1000.0]
    talk = Conversation(cfg, store, SimpleNamespace(now=lambda: now[0]), lambda *a, **k: None,
                        Counters())
    item = SimpleNamespace(kind="opt_out_confirm", number="+15125550142", body="unsubscribed",
                           queued_at=iso(1000.0))
    now[0] = 1000.0 + 299
    on_time = talk.refusal(item)
    now[0] = 1000.0 + 301
    late = talk.refusal(item)
    store.close()
    assert on_time is None
    assert late == "too late to confirm the opt-out (47 CFR 64.1200(a)(12): within 5 minutes)"
