#!/usr/bin/env bash
# Runs the benchmark guests natively (gcc -m32) and compares their checksums with the
# TypeScript references in bench/programs.ts. Needs gcc-multilib.
set -euo pipefail
cd "$(dirname "$0")"
out="${TMPDIR:-/tmp}/bench-native-check"
gcc -m32 -O1 -no-pie -fno-pic -o "$out" native-check.c
"$out" int.bin 1 int.bin 1000 int.bin 2500000 mem.bin 1 mem.bin 10 mem.bin 1500 branch.bin 1 branch.bin 10 branch.bin 250
