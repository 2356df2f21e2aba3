"""gateway.textfile: the one rule for hand-written files (config, templates), as bytes -> text."""
import pytest

from gateway.textfile import NotText, decode


@pytest.mark.parametrize("data, text", [
    (b"a = 1\n", "a = 1\n"),
    (b"\xef\xbb\xbfa = 1\r\nb = 2\r\n", "a = 1\nb = 2\n"),     # Windows Notepad
    (b"a = 1\rb = 2\r", "a = 1\nb = 2\n"),                    # classic Mac OS
    (b"\xef\xbb\xbf", ""),
    ("caf\u00e9 \U0001F527\r\n".encode(), "caf\u00e9 \U0001F527\n"),
    (b"a\xef\xbb\xbfb", "a\ufeffb"),                          # only a leading BOM is a BOM
])
def test_decode(data, text):
    assert decode(data) == text


@pytest.mark.parametrize("data, reason", [
    ("a = 1".encode("utf-16"), "saved as UTF-16 (Notepad's \"Unicode\"), not UTF-8"),
    ("a = 1".encode("utf-16-be").join([b"\xfe\xff", b""]), "saved as UTF-16 (Notepad's \"Unicode\"), not UTF-8"),
    ("caf\u00e9".encode("cp1252"), "not UTF-8 text (byte 3)"),
])
def test_not_text(data, reason):
    with pytest.raises(NotText) as err:
        decode(data)
    assert err.value.reason == reason
    assert err.value.hint == "save the file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)"
