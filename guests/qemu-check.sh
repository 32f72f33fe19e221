#!/bin/sh
# Boot a guest image under QEMU (Debian's qemu-system-i386, TCG) as the
# reference the emulator is compared against, drive its serial console, and
# check that it reaches the shell. Not part of `npm test`: QEMU is optional.
#
# usage: guests/qemu-check.sh [linux|seabios-linux|grub|grub-disk|syslinux|memtest|debian-linux]...
#   linux          -kernel bzImage -initrd initramfs.cpio.gz (direct boot
#                  through QEMU's fw_cfg + linuxboot option ROM)
#   seabios-linux  the same, but with -bios guests/seabios/bios-256k.bin
#   grub           -cdrom $MEDIA/grub.iso through SeaBIOS (El Torito)
#   grub-disk      the same hybrid ISO as an IDE hard disk (its MBR)
#   syslinux       -hda $MEDIA/syslinux.img through SeaBIOS
#   memtest        -kernel $MEDIA/memtest86+ia32.bin: waits for its first test
#   debian-linux   Debian's stock kernel ($MEDIA/vmlinuz-686) + the tiny initramfs
# (grub, syslinux, memtest and debian-linux need guests/fetch.sh first; the
# last one `guests/fetch.sh debian-kernel`.)
# For the shell targets it waits for the prompt, runs `uname -a`, then `exit`
# (the guest's /init reboots, and -no-reboot makes QEMU quit).
# Logs go to $X86LAB_CACHE/qemu-check/<target>.log; default cache
# $XDG_CACHE_HOME/x86lab, else ~/.cache/x86lab.
# Environment: QEMU (default qemu-system-i386), CPU (default pentium2),
#   MEM (default 64), TIMEOUT seconds per wait (default 120).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${X86LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/x86lab}
MEDIA=$CACHE/media
OUTD=$CACHE/qemu-check
QEMU=${QEMU:-qemu-system-i386}
CPU=${CPU:-pentium2}
MEM=${MEM:-64}
TIMEOUT=${TIMEOUT:-120}
KERNEL=$HERE/linux/bzImage
INITRD=$HERE/linux/initramfs.cpio.gz
mkdir -p "$OUTD"
command -v "$QEMU" >/dev/null || { echo "qemu-check.sh: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 2; }

# wait_for LOG PATTERN: poll until the fixed string PATTERN is in LOG
wait_for() {
  n=0
  while ! grep -qF -- "$2" "$1" 2>/dev/null; do
    n=$((n + 1))
    if [ $n -gt $((TIMEOUT * 10)) ]; then return 1; fi
    if ! kill -0 "$QPID" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
}

run() {
  t=$1
  log=$OUTD/$t.log
  fifo=$OUTD/$t.serial
  rm -f "$log" "$fifo.in" "$fifo.out"
  mkfifo "$fifo.in" "$fifo.out"
  case $t in
    linux) set -- -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 panic=-1" ;;
    seabios-linux) set -- -bios "$HERE/seabios/bios-256k.bin" -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 panic=-1" ;;
    debian-linux) set -- -kernel "$MEDIA/vmlinuz-686" -initrd "$INITRD" -append "console=ttyS0 panic=-1" ;;
    grub) set -- -cdrom "$MEDIA/grub.iso" -boot d ;;
    grub-disk) set -- -drive "file=$MEDIA/grub.iso,format=raw,if=ide,snapshot=on" -boot c ;;
    syslinux) set -- -drive "file=$MEDIA/syslinux.img,format=raw,if=ide,snapshot=on" -boot c ;;
    memtest) set -- -kernel "$MEDIA/memtest86+ia32.bin" -append "console=ttyS0,115200" ;;
    *) echo "qemu-check.sh: unknown target $t" >&2; return 2 ;;
  esac
  start=$(date +%s.%N)
  "$QEMU" -M pc -cpu "$CPU" -m "$MEM" -display none -no-reboot \
    -chardev "pipe,id=s0,path=$fifo" -serial chardev:s0 -monitor none "$@" 2>"$OUTD/$t.stderr" &
  QPID=$!
  cat "$fifo.out" > "$log" &
  CPID=$!
  exec 3> "$fifo.in"
  ok=0
  if [ "$t" = memtest ]; then
    wait_for "$log" "Address test" && ok=1
  elif wait_for "$log" "x86lab: init ok" && wait_for "$log" "~ # "; then
    up=$(echo "$(date +%s.%N) - $start" | bc)
    printf 'uname -a\r' >&3
    if wait_for "$log" "Linux tiny"; then
      printf 'exit\r' >&3
      wait_for "$log" "rebooting" && ok=1
    fi
  fi
  exec 3>&-
  sleep 1
  kill "$QPID" 2>/dev/null || true
  wait "$QPID" 2>/dev/null || true
  kill "$CPID" 2>/dev/null || true
  rm -f "$fifo.in" "$fifo.out"
  if [ $ok = 1 ]; then
    echo "qemu-check.sh: $t ok${up:+ (shell prompt after ${up}s)}; log: $log"
  else
    echo "qemu-check.sh: $t FAILED; log: $log" >&2
    tail -n 20 "$log" >&2
    return 1
  fi
}

[ $# -gt 0 ] || set -- linux
rc=0
for t in "$@"; do up=; run "$t" || rc=1; done
exit $rc
