#!/bin/sh
# Fetch and build the guest of `npm run bench:guest` into a cache directory (never committed):
#   vmlinuz-686        Debian's stock i386 kernel, from the versioned package that the
#                      `linux-image-686` metapackage depends on (apt-get download, dpkg-deb -x)
#   initramfs.cpio.gz  Debian's static i386 busybox (`busybox-static:i386`) and
#                      bench/guest/init as /init, packed reproducibly
#   initramfs-devices.cpio.gz
#                      the same busybox, bench/guest/init-devices as /init and the kernel's own
#                      virtio and ne2k-pci modules with their dependencies (all are modules in
#                      Debian's kernel): the device check of `npm run test:media`, never timed
#   MANIFEST           package versions and sha256 of the three
# and makes sure the peers' tools are installed: `qemu-system-i386` (Debian's qemu-system-x86).
#
# usage: scripts/fetch-bench-guest.sh [--refresh] [--no-apt]
#   --refresh  ask apt for the current package versions even when the cache is complete
#   --no-apt   never run apt-get: use the .deb files and tools already there
#
# Idempotent: a complete cache (all files, made from the current bench/guest init scripts) is reused
# without touching the network; otherwise all are remade from the .deb files already in the
# cache where it has them (apt still resolves which kernel linux-image-686 means), and
# downloaded where not. Every apt step that fails says so and what to check.
# Environment: X86LAB_CACHE (default $XDG_CACHE_HOME/x86lab, else ~/.cache/x86lab), as the
# scripts under guests/ use. Prints the output directory on the last line of stdout.
set -eu
umask 022

ROOT=$(cd "$(dirname "$0")/.." && pwd)
INIT=$ROOT/bench/guest/init
INIT_DEVICES=$ROOT/bench/guest/init-devices
# the drivers the device check loads (their dependencies are found in the modules themselves)
DEVICE_MODULES="virtio_pci virtio_blk virtio_net virtio_console virtio_rng virtio_balloon ne2k_pci"
CACHE=${X86LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/x86lab}
DEBS=$CACHE/debs
OUT=$CACHE/bench-guest
APT=1
REFRESH=0
for a in "$@"; do
  case $a in
    --refresh) REFRESH=1 ;;
    --no-apt) APT=0 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "fetch-bench-guest.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done
log() { echo "fetch-bench-guest.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
mkdir -p "$DEBS" "$OUT"

init_sum=$(sha256sum "$INIT" | cut -d' ' -f1)
devices_sum=$(printf '%s\n' "$(sha256sum "$INIT_DEVICES" | cut -d' ' -f1)" "$DEVICE_MODULES" | sha256sum | cut -d' ' -f1)
complete() {
  [ -f "$OUT/vmlinuz-686" ] && [ -f "$OUT/initramfs.cpio.gz" ] && [ -f "$OUT/initramfs-devices.cpio.gz" ] &&
    [ -f "$OUT/MANIFEST" ] && grep -q "^init $init_sum\$" "$OUT/MANIFEST" &&
    grep -q "^init-devices $devices_sum\$" "$OUT/MANIFEST"
}
have_qemu() { command -v qemu-system-i386 >/dev/null; }
if [ "$REFRESH" = 0 ] && complete && have_qemu; then
  log "cache complete ($OUT)"
  echo "$OUT"
  exit 0
fi

# ---------------------------------------------------------------- apt
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
for t in dpkg-deb cpio gzip sha256sum; do
  command -v "$t" >/dev/null || die "missing tool '$t' (this script needs a Debian-like system with dpkg)"
done
if [ "$APT" = 1 ]; then
  command -v apt-get >/dev/null ||
    die "apt-get is not available: run on Debian (or pass --no-apt with the .deb files in $DEBS)"
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg --print-foreign-architectures | grep -qx i386 && [ "$(dpkg --print-architecture)" != i386 ]; then
    $SUDO dpkg --add-architecture i386 || die "dpkg --add-architecture i386 failed"
  fi
  # a mirror mid-sync can fail one index and the packages still resolve: judge by what follows
  $SUDO apt-get update -q >&2 || log "warning: apt-get update reported errors (network down?)"
fi

# deb PKG: the path of a .deb of PKG in $DEBS: one already there (the newest) unless --refresh,
# else a fresh `apt-get download` (into a folder of its own, so that its file is the only one)
deb() {
  n=${1%%:*}
  if [ "$REFRESH" = 0 ] || [ "$APT" = 0 ]; then
    f=$(ls -t "$DEBS/${n}_"*.deb 2>/dev/null | head -n1)
    if [ -n "$f" ]; then echo "$f"; return 0; fi
    [ "$APT" = 1 ] || die "--no-apt: no .deb for $1 in $DEBS"
  fi
  t=$(mktemp -d "$DEBS/.download.XXXXXX")
  if ! (cd "$t" && apt-get download -q "$1" >&2); then
    rm -rf "$t"
    die "apt-get download $1 failed: is the network up and is the i386 architecture's package list there?"
  fi
  for f in "$t"/*.deb; do mv "$f" "$DEBS/"; echo "$DEBS/${f##*/}"; done
  rmdir "$t"
}

# ---------------------------------------------------------------- kernel
# the versioned image the metapackage points to, e.g. linux-image-6.1.0-57-686
kpkg=
if [ "$APT" = 1 ]; then
  kpkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-686\)\(:i386\)\{0,1\}$/\1/p' | head -n1)
  [ -n "$kpkg" ] || die "apt cannot resolve linux-image-686:i386 (no network, or no i386 package list: apt-get update)"
else
  kpkg=$(ls -t "$DEBS"/linux-image-[0-9]*-686_*_i386.deb 2>/dev/null | head -n1 | sed 's|.*/||; s|_.*||')
  [ -n "$kpkg" ] || die "--no-apt: no linux-image-*-686 .deb in $DEBS"
fi
kdeb=$(deb "$kpkg:i386")
kver=$(dpkg-deb -f "$kdeb" Version)
X=$(mktemp -d)
trap 'rm -rf "$X"' EXIT
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$X" ./boot
cp "$X"/boot/vmlinuz-* "$OUT/vmlinuz-686.new"
mv "$OUT/vmlinuz-686.new" "$OUT/vmlinuz-686"
log "kernel: $kpkg $kver"

# ---------------------------------------------------------------- initramfs
bdeb=$(deb busybox-static:i386)
bver=$(dpkg-deb -f "$bdeb" Version)
dpkg-deb -x "$bdeb" "$X/bb"
R=$X/root
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/root" "$R/etc"
cp "$X/bb/bin/busybox" "$R/bin/busybox"
cp "$INIT" "$R/init"
chmod 755 "$R/init" "$R/bin/busybox"
chmod 1777 "$R/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
# reproducible: fixed times (the busybox binary's), sorted names, no owner, gzip -n
epoch=$(stat -c %Y "$X/bb/bin/busybox")
find "$R" -exec touch -h -d "@$epoch" {} +
# pack DIR NAME: DIR as a reproducible newc archive $OUT/NAME
pack() {
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) |
    gzip -9 -n > "$OUT/$2.new"
  mv "$OUT/$2.new" "$OUT/$2"
}
pack "$R" initramfs.cpio.gz
log "initramfs: busybox-static:i386 $bver"

# ---------------------------------------------------------------- device-check initramfs
# The same root with init-devices as /init, plus the modules of DEVICE_MODULES and everything
# they depend on (the `depends=` field of each module's .modinfo), listed in /etc/modules in an
# order that loads every dependency first.
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$X" ./lib/modules
MODS=$(ls -d "$X"/lib/modules/*/ | head -n1)
MODS=${MODS%/}
krel=${MODS##*/}
D=$X/devices
cp -a "$R" "$D"
cp "$INIT_DEVICES" "$D/init"
chmod 755 "$D/init"
mkdir -p "$D/lib/modules/$krel"
: > "$D/etc/modules"
# modpath NAME: the module's path under $MODS (a name matches - and _ alike, as modprobe does)
modpath() { find "$MODS/kernel" -name "$(echo "$1" | sed 's/[-_]/[-_]/g').ko" | head -n1; }
# need NAME: its dependencies first, then NAME, each once
need() {
  grep -qx "$1" "$X/needed" 2>/dev/null && return 0
  p=$(modpath "$1")
  [ -n "$p" ] || die "module $1 is not in $kpkg"
  for dep in $(tr '\0' '\n' < "$p" | sed -n 's/^depends=//p' | tr ',' ' '); do need "$dep"; done
  p=$(modpath "$1")
  echo "$1" >> "$X/needed"
  rel=${p#"$MODS"/}
  mkdir -p "$D/lib/modules/$krel/${rel%/*}"
  cp "$p" "$D/lib/modules/$krel/$rel"
  echo "$rel" >> "$D/etc/modules"
}
for m in $DEVICE_MODULES; do need "$m"; done
find "$D" -exec touch -h -d "@$epoch" {} +
pack "$D" initramfs-devices.cpio.gz
log "device-check initramfs: $(wc -l < "$D/etc/modules") modules of $kpkg"

# ---------------------------------------------------------------- peers
if ! have_qemu; then
  [ "$APT" = 1 ] || die "--no-apt: qemu-system-i386 is not installed (Debian package qemu-system-x86)"
  $SUDO apt-get install -y -q --no-install-recommends qemu-system-x86 >&2 ||
    die "apt-get install qemu-system-x86 failed"
fi

{
  echo "# bench:guest images (scripts/fetch-bench-guest.sh)"
  echo "kernel $kpkg:i386 $kver"
  echo "busybox-static:i386 $bver"
  echo "init $init_sum"
  echo "init-devices $devices_sum"
  for f in vmlinuz-686 initramfs.cpio.gz initramfs-devices.cpio.gz; do
    echo "$(sha256sum "$OUT/$f" | cut -d' ' -f1)  $f  $(stat -c %s "$OUT/$f")"
  done
} > "$OUT/MANIFEST"
cat "$OUT/MANIFEST" >&2
echo "$OUT"
