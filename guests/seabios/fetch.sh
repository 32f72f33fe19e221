#!/bin/sh
# Refresh the committed SeaBIOS firmware from Debian's `seabios` package.
#
# usage: guests/seabios/fetch.sh [--no-apt]
#   --no-apt  reuse a seabios_*.deb already in the cache instead of apt-get
#
# Copies into this directory:
#   bios-256k.bin       the BIOS QEMU's `pc` machine loads by default (QEMU >= 1.7
#                       for pc-i440fx-1.7 and later): full feature set. Map it
#                       at the top of 4 GiB; its last 128 KiB also at 0xE0000.
#   bios.bin            the 128 KiB build (QEMU's old machine types); fits
#                       entirely in 0xE0000-0xFFFFF. Same version, fewer features.
#   vgabios-stdvga.bin  SeaVGABIOS for the PCI "std" VGA (QEMU's default -vga
#                       std, PCI 1234:1111, Bochs VBE ports 0x1CE/0x1CF): an
#                       option ROM for the device's ROM BAR or fw_cfg vgaroms/.
#   vgabios.bin         SeaVGABIOS for an ISA VGA (QEMU's isa-vga; Debian's
#                       vgabios.bin -> vgabios-isavga.bin): copied to 0xC0000.
#   COPYING             the package's copyright file (SeaBIOS: LGPL-3.0)
#   LGPL-3, GPL-3, LGPL-2  the license texts it refers to
#   VERSIONS            package version and sha256 of every file
# Environment: X86LAB_CACHE (default $XDG_CACHE_HOME/x86lab, else ~/.cache/x86lab)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${X86LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/x86lab}
DEBS=$CACHE/debs
mkdir -p "$DEBS"
if [ "${1:-}" = --no-apt ]; then
  DEB=$(ls -t "$DEBS"/seabios_*_all.deb 2>/dev/null | head -n1)
else
  export DEBIAN_FRONTEND=noninteractive
  SUDO=
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q || echo "fetch.sh: warning: apt-get update reported errors" >&2
  (cd "$DEBS" && apt-get download -q seabios)
  want=$(apt-cache policy seabios | sed -n 's/^ *Candidate: //p')
  DEB=
  for d in "$DEBS"/seabios_*.deb; do
    [ -f "$d" ] && [ "$(dpkg-deb -f "$d" Version)" = "$want" ] && DEB=$d
  done
fi
[ -n "$DEB" ] && [ -f "$DEB" ] || { echo "fetch.sh: no seabios .deb" >&2; exit 1; }
VER=$(dpkg-deb -f "$DEB" Version)

X=$(mktemp -d)
trap 'rm -rf "$X"' EXIT
dpkg-deb -x "$DEB" "$X"
S=$X/usr/share/seabios
for f in bios-256k.bin bios.bin vgabios-stdvga.bin; do
  cp "$S/$f" "$HERE/$f"
done
cp -L "$S/vgabios.bin" "$HERE/vgabios.bin"
cp "$X/usr/share/doc/seabios/copyright" "$HERE/COPYING"
for l in LGPL-3 GPL-3 LGPL-2; do
  cp "/usr/share/common-licenses/$l" "$HERE/$l"
done

{
  echo "# Debian package the firmware here was copied from (guests/seabios/fetch.sh)"
  echo "seabios $VER"
  echo "# source: Debian source package seabios $VER (upstream SeaBIOS $(echo "$VER" | sed 's/-[^-]*$//'))"
  echo "# vgabios.bin is the package's vgabios-isavga.bin"
  echo "# sha256 and size"
  for f in bios-256k.bin bios.bin vgabios-stdvga.bin vgabios.bin; do
    echo "$(sha256sum "$HERE/$f" | cut -d' ' -f1)  $f  $(stat -c %s "$HERE/$f")"
  done
} > "$HERE/VERSIONS"
cat "$HERE/VERSIONS"
