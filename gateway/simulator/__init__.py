"""The other end, simulated: the modem on a pty, replay scenarios, the fake phone apps. Imported by
the CLI (demo, replay, doctor --port sim) and the tests only."""
