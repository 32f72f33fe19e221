#!/usr/bin/env bash
# Builds the lab kernels (Multiboot v1 ELF, loaded at 1 MiB) from C and nasm sources. The
# .elf files are committed, so `npm test` needs no toolchain; run this after editing a source.
# The build is reproducible: no timestamps, no build ID, source paths mapped to "labs".
set -euo pipefail
cd "$(dirname "$0")"
need=()
command -v nasm >/dev/null 2>&1 || need+=(nasm)
if ! echo 'int x;' | gcc -m32 -c -x c -o /dev/null - >/dev/null 2>&1; then need+=(gcc-multilib); fi
command -v ld >/dev/null 2>&1 || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update || echo "apt-get update failed; trying the install anyway" >&2
  $SUDO apt-get install -y "${need[@]}"
fi

export SOURCE_DATE_EPOCH=0
CFLAGS=(-m32 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -O2 -march=i686 -mno-sse -mno-mmx
  -fno-asynchronous-unwind-tables -fno-ident -Wall -Wextra -Werror -std=gnu11
  "-ffile-prefix-map=$PWD=labs")
LDFLAGS=(-m elf_i386 -T common/kernel.ld --build-id=none -nostdlib -z noexecstack --no-warn-rwx-segments)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# dir/elf: the output; defines: "" or preprocessor flags for gcc and nasm alike (-DPV).
build() { # dir/elf, defines, sources...
  local elf=$1 defs=() objs=() src obj
  read -r -a defs <<<"$2"
  shift 2
  for src in common/start.asm common/lab.c "$@"; do
    obj="$out/$(basename "$elf" .elf)-$(echo "$src" | tr '/.' '__').o"
    case "$src" in
      *.asm) nasm -f elf32 -w+all "${defs[@]}" -o "$obj" "$src" ;;
      *.c) gcc "${CFLAGS[@]}" "${defs[@]}" -c -o "$obj" "$src" ;;
    esac
    objs+=("$obj")
  done
  ld "${LDFLAGS[@]}" -o "$elf" "${objs[@]}"
  strip --strip-all -R .comment "$elf"
  echo "guests/labs/$elf: $(wc -c <"$elf") bytes"
}

build nanobench/nanobench.elf "" nanobench/nanobench.c nanobench/bench.asm
# The pv build: hypercalls instead of privileged instructions (README.md, docs/hypercalls.md).
build nanobench/nanobench-pv.elf "-DPV" nanobench/nanobench.c nanobench/bench.asm
build sensitive/sensitive.elf "" sensitive/sensitive.c sensitive/probes.asm
