"""gateway.render: templates (load, validate, render) and SMS segment counting."""
import pytest

from gateway.errors import TemplateError
from gateway.render import (
    FIELDS,
    GSM7_BASIC,
    Segments,
    default_templates_dir,
    load_templates,
    render,
    segments,
    validate,
)

DEMO_FIELDS = {"company": "Acme Plumbing", "owner": "Mike", "business_phone": "(512) 555-0100",
               "first_name": "", "caller": "(512) 555-0142", "status": "",
               "review_link": "https://g.page/r/AcmeExample/review", "booking_link": ""}


@pytest.mark.parametrize("text, expected", [
    ("", Segments("GSM-7", 1, 0, ())),
    ("a" * 160, Segments("GSM-7", 1, 160, ())),
    ("a" * 161, Segments("GSM-7", 2, 161, ())),
    ("a" * 306, Segments("GSM-7", 2, 306, ())),         # 153 * 2
    ("a" * 307, Segments("GSM-7", 3, 307, ())),         # 153 * 2 + 1
    ("€" * 80, Segments("GSM-7", 1, 160, ())),          # extension: 2 septets each
    ("€" * 80 + "a", Segments("GSM-7", 2, 161, ())),
    ("a" * 159 + "[", Segments("GSM-7", 2, 161, ())),
    ("{x}|~^\\]\f", Segments("GSM-7", 1, 17, ())),
    # An escape pair is never split across parts: 306 septets, but 3 parts.
    ("a" * 152 + "€" + "a" * 152, Segments("GSM-7", 3, 306, ())),
    ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", Segments("GSM-7", 1, 42, ())),
    ("’" * 70, Segments("UCS-2", 1, 70, ("’",))),
    ("’" * 71, Segments("UCS-2", 2, 71, ("’",))),
    ("a" * 133 + "—", Segments("UCS-2", 2, 134, ("—",))),   # 67 * 2
    ("a" * 134 + "—", Segments("UCS-2", 3, 135, ("—",))),   # 67 * 2 + 1
    ("😀" * 35, Segments("UCS-2", 1, 70, ("😀",))),         # outside the BMP: 2 units each
    ("a" * 69 + "😀", Segments("UCS-2", 2, 71, ("😀",))),
    ("It’s done — 👍 ’ ç", Segments("UCS-2", 1, 18, ("’", "—", "👍", "ç"))),
    ("`", Segments("UCS-2", 1, 1, ("`",))),               # not in GSM 03.38 at all
])
def test_segments(text, expected):
    assert segments(text) == expected


def test_gsm7_table_follows_23_038():
    assert len(GSM7_BASIC) == 128
    spots = {0x00: "@", 0x0A: "\n", 0x10: "Δ", 0x1B: "\x1b", 0x24: "¤", 0x40: "¡",
             0x5F: "§", 0x60: "¿", 0x7F: "à"}
    assert {i: GSM7_BASIC[i] for i in spots} == spots


@pytest.mark.parametrize("text, fields, expected", [
    ("Sorry we missed your call - this is $owner at $company.", DEMO_FIELDS,
     "Sorry we missed your call - this is Mike at Acme Plumbing."),
    ("Call ${business_phone}, quotes from $$50", DEMO_FIELDS,
     "Call (512) 555-0100, quotes from $50"),
    ("Hi $first_name!", {**DEMO_FIELDS, "first_name": "Dana"}, "Hi Dana!"),
    ("Hi $first_name!", DEMO_FIELDS, "Hi !"),
])
def test_render(text, fields, expected):
    assert render(text, fields) == expected


def test_render_names_a_missing_field():
    with pytest.raises(TemplateError) as info:
        render("this is $owner", {"company": "Acme"})
    assert str(info.value) == "no value for field $owner\n  -> fields: company"


@pytest.mark.parametrize("text, expected", [
    ("this is $owner at $compnay.",
     "missed_call.txt: missed_call: unknown field $compnay at line 1, column 19\n"
     "  -> did you mean $company? Fields: $booking_link, $business_phone, $caller, $company, "
     "$first_name, $owner, $review_link, $status"),
    ("Hello\nthis is ${ownr}",
     "missed_call.txt: missed_call: unknown field $ownr at line 2, column 9\n"
     "  -> did you mean $owner? Fields: $booking_link, $business_phone, $caller, $company, "
     "$first_name, $owner, $review_link, $status"),
    ("$xyzzy",
     "missed_call.txt: missed_call: unknown field $xyzzy at line 1, column 1\n"
     "  -> Fields: $booking_link, $business_phone, $caller, $company, $first_name, $owner, "
     "$review_link, $status"),
    ("from $50 a visit",
     "missed_call.txt: missed_call: a lone '$' at line 1, column 6\n"
     "  -> write $$ for a dollar sign, or a field name such as $company"),
    ("trailing $",
     "missed_call.txt: missed_call: a lone '$' at line 1, column 10\n"
     "  -> write $$ for a dollar sign, or a field name such as $company"),
    # An empty template would text every caller an empty message.
    ("", "missed_call.txt: missed_call: the template is empty\n"
         "  -> write the text to send (textback init FOLDER writes the defaults)"),
    (" \n\t\n", "missed_call.txt: missed_call: the template is empty\n"
                "  -> write the text to send (textback init FOLDER writes the defaults)"),
])
def test_validate_rejects(text, expected):
    with pytest.raises(TemplateError) as info:
        validate("missed_call", text, "missed_call.txt")
    assert str(info.value) == expected
    assert info.value.exit_code == 2


@pytest.mark.parametrize("text", ["$$5 off", "${company}", " ".join("$" + f for f in FIELDS)])
def test_validate_accepts(text):
    validate("missed_call", text, "missed_call.txt")


def write_set(folder, **texts):
    folder.mkdir(exist_ok=True)
    for name in ("missed_call", "after_hours", "follow_up"):
        (folder / f"{name}.txt").write_text(texts.get(name, f"{name} $company\n"), encoding="utf-8")
    return folder


def test_load_templates_strips_one_newline(tmp_path):
    folder = write_set(tmp_path / "t", missed_call="two lines\nhere\n\n", follow_up="no newline")
    (folder / "notes.md").write_text("not a template")
    assert load_templates(folder) == {"after_hours": "after_hours $company",
                                      "follow_up": "no newline",
                                      "missed_call": "two lines\nhere\n"}


def test_empty_follow_up_says_how_to_turn_follow_ups_off():
    with pytest.raises(TemplateError) as info:
        validate("follow_up", "", "follow_up.txt")
    assert info.value.hint == ("write the text to send (textback init FOLDER writes the defaults); "
                               "to send no follow-ups, set [owner] follow_up = false")


def test_load_templates_reads_notepad_files_by_the_one_rule(tmp_path):
    """BOM dropped, CRLF read as LF (gateway.textfile): the text sent is the same as from nano.
    Before, the BOM went out as U+FEFF (forcing UCS-2) and every line break as CR LF."""
    folder = write_set(tmp_path / "t")
    (folder / "missed_call.txt").write_bytes(b"\xef\xbb\xbfSorry, $company here.\r\nCall you back!\r\n")
    assert load_templates(folder)["missed_call"] == "Sorry, $company here.\nCall you back!"


def test_load_templates_errors(tmp_path):
    folder = write_set(tmp_path / "t", after_hours="Closed, $ownr will call\n")
    with pytest.raises(TemplateError) as info:
        load_templates(folder)
    assert str(folder / "after_hours.txt") in str(info.value)
    assert "did you mean $owner?" in str(info.value)

    (folder / "after_hours.txt").unlink()
    with pytest.raises(TemplateError) as info:
        load_templates(folder)
    assert str(info.value).startswith(f"{folder}: missing template after_hours.txt")

    (folder / "after_hours.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(TemplateError) as info:
        load_templates(folder)
    assert "not UTF-8" in str(info.value)

    with pytest.raises(TemplateError) as info:
        load_templates(tmp_path / "nowhere")
    assert str(info.value).startswith(f"{tmp_path / 'nowhere'}: templates folder not found")


def test_default_templates_are_plain_single_texts():
    rendered = {name: render(text, DEMO_FIELDS)
                for name, text in load_templates(default_templates_dir()).items()}
    assert rendered["missed_call"] == (
        "Sorry we missed your call - this is Mike at Acme Plumbing. What do you need done? "
        "Reply here and we'll get right back to you.")
    counted = {name: segments(text) for name, text in rendered.items()}
    assert {name: (s.encoding, s.parts) for name, s in counted.items()} == {
        "missed_call": ("GSM-7", 1), "after_hours": ("GSM-7", 1), "follow_up": ("GSM-7", 1),
        "review": ("GSM-7", 1)}
