"""textback: missed-call text-back for small contractors. docs/design.md is the map.

Kept import-free so that `textback --help` costs no more than importing click. The version is
written once, in pyproject.toml (importlib.metadata.version("textback") reads it).
"""
