"""textback's daemon: modem session, call tracking, policy, outbox and lead store.

Kept import-free so that `textback --help` costs no more than importing click.
"""
__version__ = "0.2.0"
