#!/bin/sh
# Rebuild the tiny i386 guest: bzImage from Debian's linux-source-6.1 and an
# initramfs from Debian's busybox-static:i386. Writes bzImage,
# initramfs.cpio.gz and VERSIONS next to this script.
#
# usage: guests/linux/build.sh [--no-apt] [kernel|initramfs|all]
#   --no-apt   do not install build tools with apt-get (they must be present),
#              and reuse already downloaded .deb files
#   kernel / initramfs / all (default): what to rebuild
#
# Environment:
#   X86LAB_CACHE  cache directory for downloads and build trees (default
#                 $XDG_CACHE_HOME/x86lab, else ~/.cache/x86lab). About 1.6 GB.
#   JOBS          make -j value (default 2)
#   NICE          nice level for the kernel build (default 19)
#
# apt-get steps run through sudo when not root. About 5 min for the kernel on
# 2 idle cores (plus the 139 MB download); seconds for the initramfs.
set -eu
umask 022

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${X86LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/x86lab}
JOBS=${JOBS:-2}
NICE=${NICE:-19}
APT=1
WHAT=all
for a in "$@"; do
  case $a in
    --no-apt) APT=0 ;;
    kernel|initramfs|all) WHAT=$a ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done

DEBS=$CACHE/debs
WORK=$CACHE/linux
mkdir -p "$DEBS" "$WORK"
log() { echo "build.sh: $*" >&2; }

# ---------------------------------------------------------------- toolchain
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
if [ "$APT" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  if ! dpkg --print-foreign-architectures | grep -qx i386 &&
     [ "$(dpkg --print-architecture)" != i386 ]; then
    $SUDO dpkg --add-architecture i386
  fi
  # a mirror mid-sync can fail one index; the packages we need usually resolve
  $SUDO apt-get update -q || log "warning: apt-get update reported errors"
  $SUDO apt-get install -y -q --no-install-recommends \
    build-essential flex bison bc cpio xz-utils libelf-dev gzip
fi
for t in gcc make flex bison bc cpio xz gzip dpkg-deb; do
  command -v "$t" >/dev/null || { log "missing tool: $t"; exit 1; }
done

# ---------------------------------------------------------------- packages
# download PKG: fetch the candidate .deb of PKG into $DEBS (once per version)
# and print its path
download() {
  pkg=$1
  name=${pkg%%:*}
  f=
  if [ "$APT" = 1 ]; then
    (cd "$DEBS" && apt-get download -q "$pkg" >&2)
    want=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
    # file names carry the epoch URL-encoded (1%3a...): match on the Version field
    for d in "$DEBS/${name}_"*.deb; do
      [ -f "$d" ] && [ "$(dpkg-deb -f "$d" Version)" = "$want" ] && f=$d
    done
  else
    f=$(ls -t "$DEBS/${name}_"*.deb 2>/dev/null | head -n1)
  fi
  [ -n "$f" ] && [ -f "$f" ] || { log "no .deb for $pkg in $DEBS"; exit 1; }
  echo "$f"
}
debver() { dpkg-deb -f "$1" Version; }

# previous versions (kept for the part that is not rebuilt)
prev() { sed -n "s/^$1 //p" "$HERE/VERSIONS" 2>/dev/null | head -n1; }
LVER=$(prev linux-source-6.1)
BVER=$(prev busybox-static:i386)

fetch_linux() {
  LDEB=$(download linux-source-6.1)
  LVER=$(debver "$LDEB")
  log "linux-source-6.1 $LVER"
  SRCX=$WORK/src-$LVER
  if [ ! -f "$SRCX/.extracted" ]; then
    log "extracting linux-source-6.1 $LVER"
    rm -rf "$SRCX"
    mkdir -p "$SRCX"
    dpkg-deb -x "$LDEB" "$SRCX/deb"
    tar -C "$SRCX" -xf "$SRCX"/deb/usr/src/linux-source-6.1.tar.xz
    touch "$SRCX/.extracted"
  fi
  SRC=$SRCX/linux-source-6.1
}

# ---------------------------------------------------------------- kernel
build_kernel() {
  fetch_linux
  OUT=$WORK/build-$LVER
  # reproducible stamps: the date of the Debian linux-source tarball
  KEPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$SRCX"/deb/usr/src/linux-source-6.1.tar.xz)}
  FRAG=$HERE/tiny-i386.fragment
  mkdir -p "$OUT"
  export KBUILD_BUILD_TIMESTAMP
  KBUILD_BUILD_TIMESTAMP=$(LC_ALL=C date -u -d "@$KEPOCH")
  export KBUILD_BUILD_USER=x86lab KBUILD_BUILD_HOST=x86lab KBUILD_BUILD_VERSION=1
  M="nice -n $NICE make -s -C $SRC O=$OUT ARCH=i386"
  $M tinyconfig >/dev/null
  "$SRC"/scripts/kconfig/merge_config.sh -m -O "$OUT" "$OUT/.config" "$FRAG" >/dev/null
  $M olddefconfig >/dev/null
  # every option of the fragment must have survived the dependency resolution
  bad=0
  while IFS= read -r l; do
    case $l in
      CONFIG_*)
        grep -qx "$l" "$OUT/.config" || { log "NOT SET: $l"; bad=1; } ;;
      "# CONFIG_"*" is not set")
        o=${l#\# }; o=${o%% *}
        if grep -q "^$o=" "$OUT/.config"; then log "NOT UNSET: $o"; bad=1; fi ;;
    esac
  done < "$FRAG"
  [ "$bad" = 0 ] || { log "the config fragment did not stick (see above)"; exit 1; }
  log "building bzImage (make -j$JOBS, nice $NICE)"
  $M -j"$JOBS" bzImage
  cp "$OUT/arch/x86/boot/bzImage" "$HERE/bzImage"
  cp "$OUT/.config" "$HERE/kernel.config"
}

# ---------------------------------------------------------------- initramfs
build_initramfs() {
  BDEB=$(download busybox-static:i386)
  BVER=$(debver "$BDEB")
  log "busybox-static:i386 $BVER"
  R=$WORK/initramfs-root
  rm -rf "$R" "$WORK/bb"
  dpkg-deb -x "$BDEB" "$WORK/bb"
  # reproducible stamps: the date of Debian's busybox binary
  IEPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$WORK/bb/bin/busybox")}
  mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/proc" "$R/sys" \
           "$R/dev" "$R/tmp" "$R/root" "$R/etc"
  cp "$WORK/bb/bin/busybox" "$R/bin/busybox"
  cp "$HERE/init" "$R/init"
  chmod 755 "$R/init" "$R/bin/busybox"
  chmod 1777 "$R/tmp"
  chmod 700 "$R/root"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
  printf 'root:x:0:\n' > "$R/etc/group"
  # no device nodes (needs no root): the kernel's built-in initramfs already
  # holds /dev/console for the initial console, and /init mounts devtmpfs
  find "$R" -exec touch -h -d "@$IEPOCH" {} +
  (cd "$R" && find . -mindepth 1 | LC_ALL=C sort |
     cpio -o -H newc --owner=0:0 --reproducible --quiet) |
    gzip -9 -n > "$HERE/initramfs.cpio.gz.tmp"
  mv "$HERE/initramfs.cpio.gz.tmp" "$HERE/initramfs.cpio.gz"
}

case $WHAT in
  kernel) build_kernel ;;
  initramfs) build_initramfs ;;
  all) build_kernel; build_initramfs ;;
esac

# ---------------------------------------------------------------- record
{
  echo "# Debian packages the committed images were built from (guests/linux/build.sh)"
  echo "linux-source-6.1 $LVER"
  echo "busybox-static:i386 $BVER"
  echo "gcc-12 $(dpkg-query -W -f '${Version}' gcc-12 2>/dev/null || gcc -dumpfullversion)"
  echo "# sha256 and size of the outputs"
  for f in bzImage initramfs.cpio.gz; do
    [ -f "$HERE/$f" ] || continue
    echo "$(sha256sum "$HERE/$f" | cut -d' ' -f1)  $f  $(stat -c %s "$HERE/$f")"
  done
} > "$HERE/VERSIONS"
cat "$HERE/VERSIONS"
