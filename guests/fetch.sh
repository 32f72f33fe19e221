#!/bin/sh
# Fetch and build real-world boot media from Debian packages into a cache
# directory outside the repository. Nothing here is ever committed.
#
# usage: guests/fetch.sh [--no-apt] [memtest|grub|syslinux|all]...
#   memtest   memtest86+ia32.bin from Debian's memtest86+ (Linux boot protocol
#             2.0c; boot it with -kernel, or from GRUB's `linux16`)
#   grub      grub.iso: a hybrid ISO (El Torito CD and MBR disk) made with
#             grub-mkrescue, serial console, that boots the tiny kernel +
#             initramfs (and, second menu entry, memtest86+)
#   syslinux  syslinux.img: a 16 MiB FAT "superfloppy" disk (no partition
#             table) with SYSLINUX, serial console, that boots the tiny kernel
#   all       all three (the default)
#   debian-kernel  (not in "all": a 52 MB download) vmlinuz-686, Debian's stock
#             i386 kernel from the package linux-image-686 points to; it boots
#             the tiny initramfs (needs CMOV: -cpu pentium2 or later)
#   --no-apt  do not install tools or download packages with apt-get: use the
#             tools already installed and .deb files already in the cache
#
# The tiny kernel and initramfs come from guests/linux/ (committed; rebuild
# with guests/linux/build.sh). Output goes to $X86LAB_CACHE/media (default
# $XDG_CACHE_HOME/x86lab/media, else ~/.cache/x86lab/media); the script prints
# the paths and writes MANIFEST (versions, sha256) there. apt-get steps run
# through sudo when not root; about a minute once the packages are downloaded.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${X86LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/x86lab}
DEBS=$CACHE/debs
MEDIA=$CACHE/media
KERNEL=$HERE/linux/bzImage
INITRD=$HERE/linux/initramfs.cpio.gz
APT=1
TARGETS=
for a in "$@"; do
  case $a in
    --no-apt) APT=0 ;;
    memtest|grub|syslinux|debian-kernel) TARGETS="$TARGETS $a" ;;
    all) TARGETS="memtest grub syslinux" ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "fetch.sh: unknown argument: $a" >&2; exit 2 ;;
  esac
done
[ -n "$TARGETS" ] || TARGETS="memtest grub syslinux"
mkdir -p "$DEBS" "$MEDIA"
log() { echo "fetch.sh: $*" >&2; }
need_tiny() {
  for f in "$KERNEL" "$INITRD"; do
    [ -f "$f" ] || { log "missing $f (run guests/linux/build.sh)"; exit 1; }
  done
}

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
APT_UPDATED=0
apt_update() {
  [ "$APT" = 1 ] && [ "$APT_UPDATED" = 0 ] || return 0
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >&2 || log "warning: apt-get update reported errors"
  APT_UPDATED=1
}
# need_tools "PKG..." "TOOL...": install the packages unless --no-apt, then
# check the tools are there
need_tools() {
  if [ "$APT" = 1 ]; then
    apt_update
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $1 >&2
  fi
  for t in $2; do
    command -v "$t" >/dev/null || { log "missing tool $t (package(s): $1)"; exit 1; }
  done
}
# download PKG: print the path of PKG's candidate .deb in $DEBS
download() {
  n=${1%%:*}
  f=
  if [ "$APT" = 1 ]; then
    (cd "$DEBS" && apt-get download -q "$1" >&2)
    want=$(apt-cache policy "$1" | sed -n 's/^ *Candidate: //p')
    # file names carry an epoch URL-encoded (1%3a...): match on the Version field
    for d in "$DEBS/${n}_"*.deb; do
      [ -f "$d" ] && [ "$(dpkg-deb -f "$d" Version)" = "$want" ] && f=$d
    done
  else
    f=$(ls -t "$DEBS/${n}_"*.deb 2>/dev/null | head -n1)
  fi
  [ -n "$f" ] && [ -f "$f" ] || { log "no .deb for $1 in $DEBS"; exit 1; }
  echo "$f"
}
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
MANIFEST=$MEDIA/MANIFEST.new
: > "$MANIFEST"
record() { # record FILE "what it came from"
  echo "$(sha256sum "$1" | cut -d' ' -f1)  $(basename "$1")  $(stat -c %s "$1")  $2" >> "$MANIFEST"
}

# ---------------------------------------------------------------- memtest86+
MEMTEST=$MEDIA/memtest86+ia32.bin
fetch_memtest() {
  deb=$(download memtest86+)
  x=$(mktemp -d)
  dpkg-deb -x "$deb" "$x"
  cp "$x/boot/memtest86+ia32.bin" "$MEMTEST"
  # memtest86+ is GPL-2.0; keep its copyright file beside the binary
  cp "$x/usr/share/doc/memtest86+/copyright" "$MEDIA/memtest86+.copyright"
  rm -rf "$x"
  record "$MEMTEST" "memtest86+ $(dpkg-deb -f "$deb" Version)"
}

# ---------------------------------------------------------------- GRUB ISO
fetch_grub() {
  need_tiny
  need_tools "grub-pc-bin grub-common xorriso mtools" "grub-mkrescue xorriso"
  [ -f "$MEMTEST" ] || fetch_memtest
  r=$(mktemp -d)
  mkdir -p "$r/boot/grub"
  cp "$KERNEL" "$r/bzImage"
  cp "$INITRD" "$r/initramfs.cpio.gz"
  cp "$MEMTEST" "$r/memtest86+ia32.bin"
  cat > "$r/boot/grub/grub.cfg" <<'EOF'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=1
set default=0
menuentry 'tiny Linux (serial console)' {
  linux /bzImage console=ttyS0 panic=-1
  initrd /initramfs.cpio.gz
}
menuentry 'memtest86+ (ia32, serial console)' {
  linux16 /memtest86+ia32.bin console=ttyS0,115200
}
EOF
  # BIOS (i386-pc) only: the EFI platforms are not installed
  grub-mkrescue -d /usr/lib/grub/i386-pc -o "$MEDIA/grub.iso.new" "$r" >&2 2>"$r.log" ||
    { cat "$r.log" >&2; exit 1; }
  mv "$MEDIA/grub.iso.new" "$MEDIA/grub.iso"
  rm -rf "$r" "$r.log"
  record "$MEDIA/grub.iso" "grub-pc-bin $(pkgver grub-pc-bin), xorriso $(pkgver xorriso)"
}

# ---------------------------------------------------------------- SYSLINUX disk
fetch_syslinux() {
  need_tiny
  need_tools "syslinux syslinux-common mtools dosfstools" "syslinux mkfs.vfat mcopy"
  img=$MEDIA/syslinux.img.new
  rm -f "$img"
  mkfs.vfat -C -n X86LAB -i 1a2b3c4d "$img" 16384 >/dev/null
  syslinux --install "$img"
  c=$(mktemp)
  cat > "$c" <<'EOF'
SERIAL 0 115200
PROMPT 0
TIMEOUT 10
DEFAULT linux
LABEL linux
  KERNEL /bzImage
  INITRD /initramfs.cpio.gz
  APPEND console=ttyS0 panic=-1
EOF
  export MTOOLS_SKIP_CHECK=1
  mcopy -i "$img" "$c" ::/syslinux.cfg
  mcopy -i "$img" "$KERNEL" ::/bzImage
  mcopy -i "$img" "$INITRD" ::/initramfs.cpio.gz
  rm -f "$c"
  mv "$img" "$MEDIA/syslinux.img"
  record "$MEDIA/syslinux.img" "syslinux $(pkgver syslinux), dosfstools $(pkgver dosfstools), mtools $(pkgver mtools)"
}

apt_update   # once, here: download runs in a subshell
# ---------------------------------------------------------------- stock kernel
fetch_debian_kernel() {
  # the versioned package the linux-image-686 metapackage depends on
  p=$(apt-cache depends linux-image-686 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-686\)\(:i386\)\{0,1\}$/\1/p' | head -n1)
  [ -n "$p" ] || p=$(ls -t "$DEBS"/linux-image-[0-9]*-686_*.deb 2>/dev/null | head -n1 |
                     sed 's|.*/||; s|_.*||')
  [ -n "$p" ] || { log "cannot resolve linux-image-686"; exit 1; }
  deb=$(download "$p:i386")
  x=$(mktemp -d)
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" ./boot
  cp "$x"/boot/vmlinuz-* "$MEDIA/vmlinuz-686"
  rm -rf "$x"
  record "$MEDIA/vmlinuz-686" "$p $(dpkg-deb -f "$deb" Version)"
}

for t in $TARGETS; do
  log "making $t"
  "fetch_$(echo "$t" | tr - _)"
done
# keep the entries of media not rebuilt this time
if [ -f "$MEDIA/MANIFEST" ]; then
  while IFS= read -r l; do
    n=$(echo "$l" | awk '{print $2}')
    grep -q "  $n  " "$MANIFEST" || echo "$l" >> "$MANIFEST"
  done < "$MEDIA/MANIFEST"
fi
mv "$MANIFEST" "$MEDIA/MANIFEST"
log "media in $MEDIA:"
cat "$MEDIA/MANIFEST"
