"""The documentation keeps up with the code (in the manner of sqlite-utils' tests/test_docs.py):
every command has help text and a row in the README's command table, every config key is in
docs/reference/config.md, every path and link the docs and the code name exists in the
repository, and no reference points outside it."""
import re
import subprocess
from pathlib import Path

import click
import pytest

from cli.main import cli
from gateway import config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONFIG_DOC = (ROOT / "docs" / "reference" / "config.md").read_text(encoding="utf-8")


def commands(group: click.Group = cli, prefix: str = ""):
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path + " ")


COMMANDS = list(commands())


def tracked(*suffixes: str) -> list[Path]:
    names = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / n for n in names if n.endswith(suffixes) and (ROOT / n).is_file()]


def commands_table() -> str:
    section = README.split("\n## Commands\n", 1)[1]
    return section.split("\n## ", 1)[0]


@pytest.mark.parametrize("path, command", COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_help(path, command):
    assert (command.help or "").strip(), f"`textback {path}` has no help text"


@pytest.mark.parametrize("path", [p for p, c in COMMANDS if not isinstance(c, click.Group)])
def test_every_command_is_in_the_readme_table(path):
    assert re.search(rf"`textback {re.escape(path)}\b", commands_table()), (
        f"`textback {path}` is missing from the README's command table")


@pytest.mark.parametrize("section, key", [(s, k) for s, keys in config.SCHEMA.items()
                                          for k in keys])
def test_every_config_key_is_documented(section, key):
    heading = CONFIG_DOC.split(f"## [{section}]", 1)
    where = heading[1].split("\n## ", 1)[0] if len(heading) == 2 else CONFIG_DOC
    assert f"`{key}`" in where or f"`{section}.{key}`" in CONFIG_DOC, (
        f"{section}.{key} is missing from docs/reference/config.md")


DOCS = tracked(".md")
# The code, the build and what ships: scripts, units, maintainer scripts have no common ending.
CODE = sorted(set(tracked(".py", ".toml", ".cfg", ".sh", ".service", ".rules", "Makefile"))
              | {p for p in tracked("") if p.parent.name in ("debian", "image-test", "bin", ".ci")
                 and p.suffix not in (".md", ".toml")})
# A path in the repository as the docs and the code name it: docs/..., a module's file, ...
NAMED_PATH = re.compile(r"(?<![\w/.-])((?:docs|gateway|cli|tests|bench|deploy|templates)/"
                        r"[\w./-]*\w)")


def named_paths(text: str):
    for match in NAMED_PATH.finditer(text):
        path = match.group(1)
        if "*" in text[match.end():match.end() + 1] or "<" in path or path.endswith("/..."):
            continue   # a pattern ("deploy/udev/*.rules"), not a file
        yield path


@pytest.mark.parametrize("file", DOCS + CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_named_exists(file):
    text = file.read_text(encoding="utf-8", errors="replace")
    missing = sorted({p for p in named_paths(text)
                      if not (ROOT / p).exists() and not (ROOT / p.rstrip(".")).exists()})
    assert missing == [], f"{file.relative_to(ROOT)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("file", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(file):
    text = file.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [link for link in links
               if not re.match(r"[a-z]+:", link) and not (file.parent / link).exists()]
    assert missing == [], f"{file.relative_to(ROOT)} links to missing files: {missing}"


# What a reference may not be: a path on a build machine, a note that is not in the repository,
# a numbered trap of such a note, "the brief", or a bare issue number nobody outside can open.
OUTSIDE = re.compile(r"/work/|shared/reference|modem-behaviour|phone-as-modem|(?<!docs/)"
                     r"(?<!docs/reference/)\bDESIGN\.md|(?<![\w/])pi-image\.md|\bTraps?\b|"
                     r"\bthe brief\b|\b[Ii]ssues? #?\d+")


@pytest.mark.parametrize("file", DOCS + CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_points_outside_the_repository(file):
    if file == Path(__file__):
        return
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    found = [f"{i}: {line.strip()[:80]}" for i, line in enumerate(lines, 1) if OUTSIDE.search(line)]
    assert found == [], f"{file.relative_to(ROOT)}: references outside the repository: {found}"
