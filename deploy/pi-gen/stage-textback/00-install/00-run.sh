#!/bin/bash -e
# Install our .deb into the image's root, keep ModemManager off the modem, enable first boot.
# Runs on the build host (pi-gen sources scripts/common: on_chroot, ROOTFS_DIR, STAGE_WORK_DIR).
# Put exactly one textback_<version>_all.deb into files/ first (deploy/pi-gen/README.md).
shopt -s nullglob
debs=(files/textback_*_all.deb)
if [ "${#debs[@]}" -ne 1 ]; then
	echo "stage-textback: expected one files/textback_*_all.deb, found ${#debs[@]}" >&2
	exit 1
fi
deb="$(basename "${debs[0]}")"
install -m 644 "${debs[0]}" "${ROOTFS_DIR}/tmp/${deb}"

on_chroot <<CHROOT
set -e
# apt resolves python3-venv, usb-modeswitch from the Raspberry Pi OS archive; our wheels are inside.
apt-get install -y --no-install-recommends "/tmp/${deb}"
rm -f "/tmp/${deb}"
# pi-gen stage2 removes the modemmanager package since 2026-03-02; masking also covers older bases
# and a later "apt install modemmanager" (docs/reference/pi-image.md, "Building the image").
systemctl mask ModemManager.service
systemctl enable textback-firstboot.service textback.service
CHROOT

# The installer fills this in on any laptop (docs/reference/pi-image.md, "The boot partition"); firstboot applies textback.toml only.
example="${ROOTFS_DIR}/usr/share/textback/textback.toml.example"
if [ -f "${example}" ]; then
	install -m 644 "${example}" "${ROOTFS_DIR}/boot/firmware/textback.toml.example"
fi
