"""The AT modem: line framing, parsers, modem families, the call tracker and the SMS codec (pure),
the serial session and the link (I/O)."""
