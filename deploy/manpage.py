"""textback(1), generated from the click commands' own help: the page cannot drift from --help.

    python3 deploy/manpage.py VERSION DATE > textback.1      (DATE: YYYY-MM-DD)

Needs click and our packages importable (package.py puts their wheels on PYTHONPATH). One page for
the whole command, a subsection per subcommand with its usage, help and options, in the man(7)
macros that lintian and `man` read. Why not click-man: it writes one page per subcommand and would
be one more build dependency; click's own Context/get_help_record give the same text.
"""
from __future__ import annotations

import sys

import click

# Written after the generated sections: what the help texts do not say.
TAIL = r""".SH FILES
.TP
.I /etc/textback/textback.toml
The service's settings (0640 root:textback); templates in
.IR /etc/textback/templates/ .
.TP
.I /var/lib/textback/textback.db
The lead database, shared with group textback (the owner's login: \fBusermod \-aG textback\fR).
.TP
.I /usr/share/textback/textback.toml.example
A starter config.
.SH ENVIRONMENT
.TP
.B TEXTBACK_CONFIG
The config file (the installed \fBtextback\fR command sets /etc/textback/textback.toml).
.TP
.B TEXTBACK_DB
The lead database (the installed command sets /var/lib/textback/textback.db).
.SH EXIT STATUS
0 ok, 1 runtime failure (the modem is gone, something needs you), 2 usage or config error.
.SH SEE ALSO
.BR systemctl (1),
.I /usr/share/doc/textback/README.md
(the owner's commands, what to write on the card),
.I /usr/share/doc/textback/README.Debian
(installing, the boot, the package)
"""


def roff(text: str) -> str:
    """Plain text as roff: backslashes and hyphens escaped, no line starting with a control char."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line
                     for line in text.splitlines())


def paragraphs(text: str) -> str:
    """A docstring's help as roff paragraphs: its indentation gone (a line starting with spaces is
    a break and an indent in roff: the demo's second paragraph came out ragged), one paragraph per
    blank-line-separated block, each one filled line."""
    import inspect

    blocks = [" ".join(block.split()) for block in inspect.cleandoc(text).split("\n\n")]
    return "\n.PP\n".join(roff(block) for block in blocks if block)


def walk(command: click.Command, ctx: click.Context):
    """(context, command) for every command below `ctx`, depth first, in name order."""
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            yield sub_ctx, sub
            yield from walk(sub, sub_ctx)


def options(command: click.Command, ctx: click.Context) -> list[str]:
    out = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or (ctx.parent and param.name == "help"):
            continue   # arguments are in the usage line; --help is said once, at the top
        record = param.get_help_record(ctx)
        if record:
            out += [".TP", f".B {roff(record[0])}", roff(record[1] or "")]
    return out


def page(cli: click.Group, version: str, date: str) -> str:
    root = click.Context(cli, info_name="textback")
    lines = [f'.TH TEXTBACK 1 "{date}" "textback {version}" "User Commands"',
             ".SH NAME", "textback \\- text back the callers you could not answer",
             ".SH SYNOPSIS", ".B textback", "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
             ".SH DESCRIPTION", paragraphs(cli.help or ""), ".SH OPTIONS", *options(cli, root),
             ".SH COMMANDS"]
    for ctx, command in walk(cli, root):
        if isinstance(command, click.Group) and not command.params:
            continue   # a group is only its subcommands ("config check")
        lines += [f".SS {roff(ctx.command_path)}",
                  f".B {roff(ctx.command_path)}",
                  roff(" ".join(command.collect_usage_pieces(ctx))), ".PP",
                  paragraphs(command.help or command.short_help or "")]
        lines += options(command, ctx)
    return "\n".join(lines) + "\n" + TAIL


def main() -> None:
    from cli.main import cli

    version, date = sys.argv[1:3]
    sys.stdout.write(page(cli, version, date))


if __name__ == "__main__":
    main()
