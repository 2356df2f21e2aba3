# Sourced by run, chroot and powercut: a Debian rootfs from debootstrap, cached as a tarball.
#
#   rootfs_unpack DEST [SUITE]      DEST gets a fresh copy (debootstrap on the first call only)
#
# The archive is the one this machine's apt is configured with (aptsources.py reads
# /etc/apt/sources.list and sources.list.d/), or $MIRROR: no registry host is written here.
# The tarballs live in $CACHE (default /tmp/textback-image-cache); delete one to rebuild it.

CACHE=${CACHE:-/tmp/textback-image-cache}
# Everything the guest needs, so that our .deb installs with dpkg -i and no network.
INCLUDE=systemd-sysv,udev,linux-image-amd64,initramfs-tools,python3,python3-venv

rootfs_unpack() {  # rootfs_unpack DEST [SUITE]
    _dest=$1 _suite=${2:-trixie}
    _key=$(printf '%s %s' "$_suite" "$INCLUDE" | sha256sum | cut -c1-12)
    _tarball=$CACHE/rootfs-$_suite-amd64-$_key.tar
    mkdir -p "$CACHE" "$_dest"
    if [ ! -f "$_tarball" ]; then
        if [ -z "${MIRROR:-}" ]; then
            MIRROR=$(python3 "$(dirname "$0")/aptsources.py") || return 1
        fi
        echo "debootstrap $_suite from $MIRROR (first run only; cached in $_tarball)"
        debootstrap --variant=minbase --include="$INCLUDE" "$_suite" "$_dest" "$MIRROR" \
            >"$_dest.debootstrap.log" 2>&1 || { tail -20 "$_dest.debootstrap.log"; return 1; }
        rm -rf "$_dest/var/cache/apt/archives"/*.deb
        tar -C "$_dest" -cf "$_tarball.part" . && mv "$_tarball.part" "$_tarball"
    else
        tar -C "$_dest" -xf "$_tarball"
    fi
}
