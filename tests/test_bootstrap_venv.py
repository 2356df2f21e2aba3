""".ci/bootstrap_venv.py: pip's wheel from where this machine's pip is configured to look, never a
host written into the script (a shop's mirror or an offline build host)."""
import hashlib
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "bootstrap_venv.py"


@pytest.fixture(scope="module")
def boot():
    spec = importlib.util.spec_from_file_location("bootstrap_venv", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sources_follow_pip_config_files_then_the_environment(boot, tmp_path):
    system, user = tmp_path / "pip.conf", tmp_path / "user.conf"
    system.write_text("[global]\nindex-url = https://mirror.example/simple\n"
                      "find-links = /srv/wheels\n")
    user.write_text("[install]\nextra-index-url = file:///opt/more/simple\n")
    assert boot.sources({}, [system, user]) == (
        ["/srv/wheels"], ["https://mirror.example/simple", "file:///opt/more/simple"])
    env = {"PIP_INDEX_URL": "https://shop-cache.example/simple", "PIP_FIND_LINKS": "/a /b"}
    assert boot.sources(env, [system, user]) == (
        ["/a", "/b"], ["https://shop-cache.example/simple", "file:///opt/more/simple"])
    assert boot.sources({"PIP_CONFIG_FILE": "/dev/null"}, [system]) == ([], [])


def test_no_index_configured_asks_for_one(boot, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(boot, "config_files", lambda: [])
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.argv", ["bootstrap_venv.py", str(tmp_path / "venv")])
    with pytest.raises(SystemExit) as done:
        boot.main()
    assert "set PIP_INDEX_URL" in str(done.value)
    assert not (tmp_path / "venv").exists()


def test_newest_pip_from_find_links_and_a_local_simple_index(boot, tmp_path):
    links = tmp_path / "wheels"
    links.mkdir()
    for name in ("pip-24.0-py3-none-any.whl", "pip-9.0.1-py2.py3-none-any.whl", "other-1.0.whl"):
        (links / name).write_bytes(b"x")
    simple = tmp_path / "simple" / "pip"
    simple.mkdir(parents=True)
    data = b"the wheel"
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "pip-26.2.1-py3-none-any.whl").write_bytes(data)
    (simple / "index.html").write_text(
        f'<html><body><a href="../../files/pip-26.2.1-py3-none-any.whl#sha256={digest}">'
        f'pip-26.2.1-py3-none-any.whl</a><a href="../../files/pip-26.2.1.tar.gz">sdist</a>'
        f'</body></html>')
    offered = boot.candidates([str(links)], [f"file://{tmp_path}/simple"])
    assert [v for v, _ in offered] == [(24, 0), (26, 2, 1)]
    target = tmp_path / "got.whl"
    boot.fetch_wheel(offered[-1][1], target)
    assert target.read_bytes() == data


def test_a_wheel_that_does_not_match_the_index_hash_is_refused(boot, tmp_path):
    wheel = tmp_path / "pip-26.0-py3-none-any.whl"
    wheel.write_bytes(b"tampered")
    with pytest.raises(SystemExit) as done:
        boot.fetch_wheel(f"file://{wheel}#sha256={'0' * 64}", tmp_path / "out.whl")
    assert "sha256 does not match" in str(done.value)
