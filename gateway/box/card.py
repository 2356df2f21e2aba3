"""The installer's settings as a card carries them: `textback.toml` and `textback-templates/*.txt`.

One check for every way they reach a box. `textback image customize` (before the image is touched)
and first boot (before /etc/textback is touched) both lay the files out in a temporary folder
exactly as /etc/textback will hold them (the box's templates, overlaid by the card's) and check
them with the daemon's own code, `config.load` then `config.check`: what `textback config check`
does. Text is read by the one rule of gateway.textfile (Notepad's BOM and CRLF are fine).
Errors name the installer's files, never the temporary copies.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ConfigError

CONFIG_NAME = "textback.toml"
TEMPLATES_FOLDER = "textback-templates"   # on the card
TEMPLATES_NAME = "templates"              # in /etc/textback, as `[templates] dir` says by default


@dataclass(frozen=True)
class Staged:
    folder: Path                  # holds CONFIG_NAME and TEMPLATES_NAME/, as /etc/textback will
    raw: bytes                    # the card's textback.toml, as written
    origins: dict[str, str]       # template file name -> "textback-templates/x.txt" or base path
    names: dict[Path, str]        # staged path -> how a message names it
    card_templates: Path | None = None   # the installer's templates folder, as given
    card_label: str = TEMPLATES_FOLDER   # how a message names that folder

    @property
    def config_path(self) -> Path:
        return self.folder / CONFIG_NAME

    @property
    def templates(self) -> Path:
        return self.folder / TEMPLATES_NAME

    def text(self) -> str:
        """The config's text by the one rule (LF, no BOM); call it once check() passed."""
        from gateway.textfile import decode

        return decode(self.raw)

    def from_card(self) -> list[str]:
        return sorted(n for n, where in self.origins.items() if where.startswith(TEMPLATES_FOLDER))


def stage(folder: Path, raw: bytes, config_label: str, base: Path,
          card_templates: Path | None) -> Staged:
    """Lay out the settings in the empty folder `folder`: the config bytes, then the templates of
    `base` (the box's own, or the shipped defaults) overlaid by the card's *.txt files."""
    config_path = folder / CONFIG_NAME
    fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)   # may hold a PIN
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    templates = folder / TEMPLATES_NAME
    templates.mkdir()
    from gateway.render import template_files

    origins = {}
    for source, label in ((base, str(base)), (card_templates, TEMPLATES_FOLDER)):
        if source is not None and source.is_dir():
            for src in template_files(source):
                shutil.copyfile(src, templates / src.name)
                origins[src.name] = f"{label}/{src.name}"
    names = {config_path: config_label, templates: f"the templates ({TEMPLATES_FOLDER}/ and "
                                                   f"{base})"}
    names.update({templates / name: where for name, where in origins.items()})
    return Staged(folder, raw, origins, names, card_templates)


def check(staged: Staged) -> list[str]:
    """config.load + config.check on the staged copy: the warnings, or ConfigError naming the
    installer's file and key."""
    from gateway import config

    if staged.card_templates is not None:
        misnamed_templates(staged.card_templates, staged.card_label)
    try:
        cfg = config.load(staged.config_path)
        if cfg.templates_dir != staged.templates.resolve():
            raise ConfigError("a box reads its templates from /etc/textback/templates",
                              path=str(staged.config_path), key="templates.dir",
                              hint=f"remove the [templates] dir line; put templates in the "
                                   f"{TEMPLATES_FOLDER}/ folder next to textback.toml")
        return config.check(cfg, box=True)   # a card is always a box's
    except ConfigError as exc:
        raise renamed(exc, staged.names) from None


def renamed(exc: ConfigError, names: dict[Path, str]) -> ConfigError:
    """The same error, naming the installer's files instead of the staged copies."""
    where = ": ".join(p for p in (exc.path, exc.key) if p)
    bare = exc.message.removeprefix(f"{where}: ") if where else exc.message
    for path, name in sorted(names.items(), key=lambda item: -len(str(item[0]))):
        bare = bare.replace(str(path), name)   # a TOML syntax message may quote the path
    shown = names.get(Path(exc.path), exc.path) if exc.path else None
    return type(exc)(bare, path=shown, key=exc.key, hint=exc.hint)


def misnamed_templates(folder: Path, label: str) -> None:
    """ConfigError for a file in the installer's templates folder that looks meant as a template
    but would never be read: "missed-call.txt", "Missed_Call.TXT", "missed_call.rtf", a .txt in a
    subfolder. Only TEMPLATE_NAMES and OPTIONAL_TEMPLATES + ".txt" are read
    (gateway.render.load_templates); a file the box ignores in silence is wording the installer
    thinks is in use. Hidden files (a Mac's "._x.txt") and files nothing like a template
    (desktop.ini) are left alone."""
    import difflib

    from gateway.render import OPTIONAL_TEMPLATES, TEMPLATE_NAMES

    if not Path(folder).is_dir():
        return
    names = TEMPLATE_NAMES + OPTIONAL_TEMPLATES
    wanted = [f"{name}.txt" for name in names]
    listing = ", ".join(wanted)
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith(".") or path.name in wanted:
            continue
        where = f"{label}/{path.name}"
        if path.is_dir():
            inside = sorted(p.relative_to(folder) for p in path.rglob("*")
                            if p.suffix.lower() == ".txt" and not p.name.startswith("."))
            if inside:
                raise ConfigError(
                    f"templates in a subfolder are not read ({inside[0]})", path=where,
                    hint=f"move them up into {label}/ itself, named {listing}")
            continue
        stem, suffix = os.path.splitext(path.name.lower())
        plain = stem.replace("-", "_").replace(" ", "_")
        close = difflib.get_close_matches(plain, names, n=1, cutoff=0.75)
        if suffix == ".txt" or close:
            meant = f"{close[0]}.txt" if close else None
            raise ConfigError(
                "not a template name, so this file would never be used", path=where,
                hint=(f"did you mean {meant}? " if meant else "") +
                     f"The templates are {listing} (lower case, plain text); rename or delete it")
