#!/usr/bin/env bash
# Builds guest.elf (a Multiboot kernel with symbols, for the gdb test) with gcc -m32 and ld.
# The ELF is committed, so the tests need no toolchain; run this after editing guest.c.
set -euo pipefail
cd "$(dirname "$0")"
if ! echo 'int x;' | gcc -m32 -c -x c -o /dev/null - >/dev/null 2>&1; then
  apt-get update || true
  apt-get install -y gcc-multilib binutils
fi
export SOURCE_DATE_EPOCH=0
gcc -m32 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -O1 -g -march=i686 -mno-sse -mno-mmx \
  -fno-asynchronous-unwind-tables -fno-ident -Wall -Wextra -Werror -std=gnu11 \
  "-ffile-prefix-map=$PWD=gdb-guest" -c -o /tmp/gdb-guest.o guest.c
ld -m elf_i386 -T kernel.ld --build-id=none -nostdlib -z noexecstack --no-warn-rwx-segments -o guest.elf /tmp/gdb-guest.o
rm -f /tmp/gdb-guest.o
echo "test/cli/gdb-guest/guest.elf: $(wc -c <guest.elf) bytes"
