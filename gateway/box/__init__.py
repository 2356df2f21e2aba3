"""The appliance: first boot from the card, the SD image, the doctor, the phone check, systemd
notify. Imported by the CLI only."""
