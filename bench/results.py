"""Each benchmark owns one section of bench/RESULTS.md, between markers, and rewrites only that."""
from __future__ import annotations

import os
import platform
import re
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = "# Benchmark results\n\nWritten by the benchmarks in `bench/` themselves; do not edit by hand.\n"


def machine() -> str:
    return (f"measured {date.today():%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def write_section(key: str, title: str, body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    block = f"<!-- {key} -->\n## {title}\n\n{body.rstrip()}\n<!-- /{key} -->\n"
    pattern = re.compile(rf"<!-- {key} -->.*?<!-- /{key} -->\n", re.S)
    text = pattern.sub(lambda m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)
