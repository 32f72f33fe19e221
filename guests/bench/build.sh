#!/usr/bin/env bash
# Assembles the CPU benchmark guests (flat 32-bit binaries loaded at 0x10000 by bench/cpu.ts).
# The .bin files are committed, so `npm run bench:cpu` needs no toolchain; run this after
# editing a .asm file.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v nasm >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO apt-get install -y nasm
fi
for src in int mem branch; do
  nasm -f bin -o "$src.bin" "$src.asm"
  echo "guests/bench/$src.bin: $(wc -c <"$src.bin") bytes"
done
