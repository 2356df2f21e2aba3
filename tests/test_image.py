"""textback image customize on a real MBR image built here: sfdisk + mkfs.vfat, read back with mtype."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.box import image
from gateway.errors import ConfigError, ImageError
from gateway.starter import STARTER_TOML

TOOLS = ("sfdisk", "mkfs.vfat", "mcopy", "mtype", "mmd", "mdir", "mdel", "mdeltree", "minfo")
missing = [t for t in TOOLS if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(bool(missing), reason=(
    f"needs {', '.join(missing)}: apt-get install -y mtools dosfstools fdisk"))

GOOD = STARTER_TOML.replace('port = "sim"  ', 'port = "/dev/textback-modem"')
MIB = 1 << 20


def make_image(tmp_path, boot_type="c", boot_start_mib=4):
    """A 40 MiB disk: FAT boot partition (16 MiB at `boot_start_mib`) then a Linux one, as pi-gen
    lays them out (docs/reference/pi-image.md, "The boot partition"), assembled without loop devices."""
    boot, disk = tmp_path / "boot.vfat", tmp_path / "disk.img"
    subprocess.run(["mkfs.vfat", "-C", "-n", "BOOTFS", str(boot), str(16 * 1024)], check=True,
                   capture_output=True)
    with open(disk, "wb") as f:
        f.truncate(40 * MIB)
    table = (f"label: dos\nstart={boot_start_mib}MiB, size=16MiB, type={boot_type}\n"
             f"start={boot_start_mib + 16}MiB, size=8MiB, type=83\n")
    subprocess.run(["sfdisk", "--no-reread", "--no-tell-kernel", str(disk)], input=table.encode(),
                   check=True, capture_output=True)
    with open(disk, "r+b") as f:
        f.seek(boot_start_mib * MIB)
        f.write(boot.read_bytes())
    return disk


def customer(tmp_path, text=GOOD):
    path = tmp_path / "acme.toml"
    path.write_text(text, encoding="utf-8")
    return path


@needs_tools
@pytest.mark.parametrize("boot_type, start", [("c", 4), ("b", 8), ("e", 1)])
def test_boot_offset(tmp_path, boot_type, start):
    assert image.boot_offset(make_image(tmp_path, boot_type, start)) == start * MIB


@needs_tools
def test_customize_writes_config_and_templates(tmp_path):
    disk = make_image(tmp_path)
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "missed_call.txt").write_text("Sorry we missed you - $company\n")
    (templates / "after_hours.txt").write_text("Closed now - $owner\n")
    (templates / "notes.docx").write_bytes(b"PK\x03\x04 not a template")   # first boot reads *.txt
    done = image.customize(disk, customer(tmp_path), templates)
    assert (done.written, done.warnings, done.removed) == (
        ["::/textback-templates/after_hours.txt", "::/textback-templates/missed_call.txt",
         "::/textback.toml"], [], [])
    assert image.read_back(disk, "::/textback.toml").decode() == GOOD
    assert image.read_back(disk, "::/textback-templates/missed_call.txt") == \
        b"Sorry we missed you - $company\n"
    # again, with a changed file: overwritten, the folder reused
    changed = GOOD.replace("Acme Plumbing", "Acme Drains")
    assert "Acme Drains" in changed
    image.customize(disk, customer(tmp_path, changed), templates)
    assert image.read_back(disk, "::/textback.toml").decode() == changed


BAD = {
    "unterminated string": GOOD.replace('"Acme Plumbing"', '"Acme Plumbing'),
    "empty name": GOOD.replace('"Acme Plumbing"', '""'),
}


@needs_tools
@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
def test_bad_file_leaves_image_untouched(tmp_path, text):
    disk = make_image(tmp_path)
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    bad = customer(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        image.customize(disk, bad)
    assert str(bad) in str(err.value) and "textback-image-" not in str(err.value)
    assert err.value.exit_code == 2
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before


NOT_IMAGES = {
    "no mbr": (b"\0" * 4096, "has no MBR partition table"),
    "mbr without fat": (b"\0" * 446 + bytes([0, 0, 0, 0, 0x83, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0])
                        + b"\0" * 48 + b"\x55\xaa", "has no FAT boot partition"),
    "gpt": (b"\0" * 446 + bytes([0, 0, 0, 0, 0xEE, 0, 0, 0, 1, 0, 0, 0, 0, 8, 0, 0])
            + b"\0" * 48 + b"\x55\xaa", "has a GPT partition table"),
}


@pytest.mark.parametrize("data, message", NOT_IMAGES.values(), ids=NOT_IMAGES.keys())
def test_not_an_image(tmp_path, data, message):
    disk = tmp_path / "x.img"
    disk.write_bytes(data)
    with pytest.raises(ImageError) as err:
        image.customize(disk, customer(tmp_path))
    assert err.value.message == f"{disk} {message}"


PI_GEN = Path(__file__).resolve().parent.parent / "deploy" / "pi-gen"
SCRIPTS = ["stage-textback/prerun.sh", "stage-textback/00-install/00-run.sh",
           "stage-textback/EXPORT_IMAGE", "config.example"]


@pytest.mark.parametrize("name", SCRIPTS)
def test_pi_gen_scripts_parse(name):
    done = subprocess.run(["bash", "-n", str(PI_GEN / name)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="needs shellcheck: apt-get install -y shellcheck")
def test_pi_gen_shellcheck():
    done = subprocess.run(["shellcheck", "-s", "bash", *(str(PI_GEN / n) for n in SCRIPTS)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_pi_gen_stage_shape():
    """pi-gen runs only executable NN-run.sh files and exports only stages with EXPORT_IMAGE."""
    stage = PI_GEN / "stage-textback"
    assert os.access(stage / "prerun.sh", os.X_OK)
    assert os.access(stage / "00-install" / "00-run.sh", os.X_OK)
    run = (stage / "00-install" / "00-run.sh").read_text()
    for needed in ("on_chroot", "systemctl mask ModemManager.service",
                   "systemctl enable textback-firstboot.service"):
        assert needed in run


BAD_TEMPLATES = {
    # the case: an unknown field, which first boot would refuse after the drive out
    "unknown field": ("missed_call.txt", b"Hi from $compnay\n", "unknown field $compnay"),
    "empty": ("follow_up.txt", b"\r\n", "the template is empty"),
    "lone dollar": ("after_hours.txt", b"Call-out fee $ 50", "a lone '$'"),
    "not utf-8": ("missed_call.txt", "Caf\u00e9 $company".encode("cp1252"), "not UTF-8 text"),
}


@needs_tools
@pytest.mark.parametrize("name, body, problem", BAD_TEMPLATES.values(), ids=BAD_TEMPLATES.keys())
def test_a_bad_template_is_refused_before_the_image_is_touched(tmp_path, name, body, problem):
    disk = make_image(tmp_path)
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / name).write_bytes(body)
    with pytest.raises(ConfigError) as err:
        image.customize(disk, customer(tmp_path), templates)
    assert err.value.path == str(templates / name) and problem in err.value.message
    assert "textback-image-" not in str(err.value)
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before


@needs_tools
def test_notepad_files_are_accepted_and_written_as_they_are(tmp_path):
    """One rule (gateway.textfile): a UTF-8 BOM and CRLF, as Notepad saves them, are fine."""
    disk = make_image(tmp_path)
    notepad = b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode()
    toml = tmp_path / "acme.toml"
    toml.write_bytes(notepad)
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "missed_call.txt").write_bytes(b"\xef\xbb\xbfSorry, $owner missed you.\r\n")
    assert image.customize(disk, toml, templates).warnings == []
    assert image.read_back(disk, "::/textback.toml") == notepad   # first boot reads it the same way


@needs_tools
def test_warnings_are_those_of_config_check(tmp_path):
    disk = make_image(tmp_path)
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "missed_call.txt").write_text("We\u2019ll call you back - $company")
    warnings = image.customize(disk, customer(tmp_path), templates).warnings
    assert warnings == ["missed_call.txt: '\u2019' (RIGHT SINGLE QUOTATION MARK) forces UCS-2, so a "
                        "text holds 70 characters instead of 160; use ' instead"]


@needs_tools
def test_a_templates_dir_the_box_would_not_read_is_refused(tmp_path):
    disk = make_image(tmp_path)
    text = GOOD.replace('dir = "templates"', 'dir = "/home/pi/my-templates"')
    assert text != GOOD
    with pytest.raises(ConfigError) as err:
        image.customize(disk, customer(tmp_path, text))
    assert (err.value.key, err.value.path) == ("templates.dir", str(tmp_path / "acme.toml"))


# -- STRANGER2 #2, #9, #10, #14, minor: one customer's settings on the card, all or nothing -------
def on_card(disk):
    target = f"{disk}@@{image.boot_offset(disk)}"
    return sorted(subprocess.run(["mdir", "-b", "-/", "-i", target, "::/"], capture_output=True,
                                 text=True).stdout.splitlines())


def put(disk, source, name):
    subprocess.run(["mcopy", "-o", "-i", f"{disk}@@{image.boot_offset(disk)}", str(source), name],
                   check=True, capture_output=True)


def folder(tmp_path, name, **files):
    path = tmp_path / name
    path.mkdir()
    for file_name, body in files.items():
        (path / f"{file_name}.txt").write_text(body)
    return path


@needs_tools
def test_a_second_customize_replaces_the_first_customers_templates_and_says_so(tmp_path):
    disk = make_image(tmp_path)
    first = folder(tmp_path, "first", missed_call="Bob's Roofing missed you - $company",
                   after_hours="Bob's closed - $company")
    image.customize(disk, customer(tmp_path), first)
    second = folder(tmp_path, "second", missed_call="Acme here, sorry - $company")
    done = image.customize(disk, customer(tmp_path), second)
    assert done.removed == ["::/textback-templates/after_hours.txt",
                            "::/textback-templates/missed_call.txt"]
    assert on_card(disk) == ["::/textback-templates/", "::/textback-templates/missed_call.txt",
                             "::/textback.toml"]
    assert image.read_back(disk, "::/textback-templates/missed_call.txt") == \
        b"Acme here, sorry - $company"
    # without --templates: none of the earlier customer's left (the box's own are used)
    done = image.customize(disk, customer(tmp_path))
    assert (done.removed, on_card(disk)) == (["::/textback-templates/missed_call.txt"],
                                             ["::/textback.toml"])


@needs_tools
@pytest.mark.parametrize("other", ["textback.toml.txt", "textback (1).toml"])
def test_customize_removes_another_settings_file_first_boot_would_refuse_beside_it(tmp_path, other):
    disk = make_image(tmp_path)
    old = tmp_path / "old.toml"
    old.write_text(GOOD.replace("Acme Plumbing", "Old Customer"))
    put(disk, old, f"::/{other}")
    done = image.customize(disk, customer(tmp_path))
    assert (done.removed, on_card(disk)) == ([f"::/{other}"], ["::/textback.toml"])


@needs_tools
def test_the_cli_says_what_it_removed_and_wrote(tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    disk = make_image(tmp_path)
    image.customize(disk, customer(tmp_path), folder(tmp_path, "a", follow_up="Still? $company"))
    result = CliRunner().invoke(cli, ["image", "customize", str(disk), "--customer",
                                      str(customer(tmp_path))])
    assert (result.exit_code, result.output) == (
        0, "removed the boot partition: /textback-templates/follow_up.txt\n"
           "wrote the boot partition: /textback.toml\n")


@needs_tools
def test_a_misnamed_template_is_refused_before_the_image_is_touched(tmp_path):
    disk = make_image(tmp_path)
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    templates = folder(tmp_path, "tpl", **{"Missed-Call": "Sorry - $company"})
    with pytest.raises(ConfigError) as err:
        image.customize(disk, customer(tmp_path), templates)
    assert (err.value.path, err.value.hint.split("?")[0]) == (
        f"{templates}/Missed-Call.txt", "did you mean missed_call.txt")
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before


@needs_tools
def test_a_full_boot_partition_is_said_before_anything_is_written(tmp_path):
    """It wrote textback.toml, then failed on the templates: a half-customized image."""
    disk = make_image(tmp_path)
    image.customize(disk, customer(tmp_path))   # an earlier customer's, still in place
    target = f"{disk}@@{image.boot_offset(disk)}"
    free = int(re.sub(r"\D", "", re.search(r"([\d\s.,']+) bytes free", subprocess.run(
        ["mdir", "-i", target, "::/"], capture_output=True, text=True, check=True).stdout)[1]))
    filler = tmp_path / "kernel.img"
    with open(filler, "wb") as f:
        f.truncate(free - 2048)   # room for the config, not for the templates too
    put(disk, filler, "::/kernel.img")
    before = hashlib.sha256(disk.read_bytes()).hexdigest()
    templates = folder(tmp_path, "tpl", missed_call="Sorry - $company", after_hours="Closed",
                       follow_up="Still? $company")
    with pytest.raises(ImageError) as err:
        image.customize(disk, customer(tmp_path), templates)
    assert err.value.message.startswith("the card's boot partition is full: ")
    assert err.value.message.endswith(" needed; nothing was written")
    assert hashlib.sha256(disk.read_bytes()).hexdigest() == before


@needs_tools
def test_a_read_only_image_is_refused_even_as_root(tmp_path):
    disk = make_image(tmp_path)
    disk.chmod(0o444)
    with pytest.raises(ImageError) as err:
        image.customize(disk, customer(tmp_path))
    assert (err.value.message, err.value.hint) == (
        f"{disk} is read-only (mode 444)", f"if it is the image to change: chmod u+w {disk}")


@needs_tools
def test_customize_warns_of_the_simulated_modem(tmp_path):
    from gateway import config

    disk = make_image(tmp_path)
    assert image.customize(disk, customer(tmp_path, STARTER_TOML)).warnings == [config.SIMULATED]
