#!/usr/bin/env bash
# Assembles the system-behaviour guest programs (flat binaries loaded at 0x7C00 and started in
# real mode by test/system/programs.test.ts). The .bin files are committed, so `npm test`
# needs no assembler; run this after editing a .asm file or lib.inc.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v nasm >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO apt-get install -y nasm
fi
for src in *.asm; do
  name="${src%.asm}"
  nasm -f bin -w+all -o "$name.bin" "$src"
  echo "guests/tests/$name.bin: $(wc -c <"$name.bin") bytes"
done
