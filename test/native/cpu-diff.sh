#!/usr/bin/env bash
# npm run cpu-diff [-- generator options]
#
# Builds the native oracle (test/native/runner.c) as a 32-bit static Linux program, generates
# random tests for every CPL-3 instruction form of core/isa/table.mjs and core/isa/x87.mjs,
# runs them on this machine's CPU and writes the x86-vectors/1 corpus to test/native/corpus/.
# The inputs depend only on the seed (--seed N, default in generate.ts); the expected outputs
# come from the host CPU. Options after -- go to the generator: --seed N, --out DIR, --scale F,
# --chains N (x87 chains), --only GROUP,... (e.g. --only x87-chains --chains 40000 --seed 7).
# Then: npm run conformance -- DIR
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=build/native-runner
mkdir -p "$BUILD"

# gcc with 32-bit support (Debian: gcc-multilib). Install it only if a 32-bit build fails.
probe() {
  printf 'int main(void){return 0;}\n' >"$BUILD/probe.c"
  gcc -m32 -static -o "$BUILD/probe" "$BUILD/probe.c" >/dev/null 2>&1 && "$BUILD/probe"
}
if ! command -v gcc >/dev/null 2>&1 || ! probe; then
  echo "cpu-diff: gcc -m32 cannot build a test program; installing gcc-multilib" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO apt-get install -y gcc gcc-multilib
  probe || { echo "cpu-diff: gcc -m32 still cannot build 32-bit programs" >&2; exit 1; }
fi

gcc -m32 -static -O2 -fno-stack-protector -fno-pie -no-pie -Wall -Wextra -o "$BUILD/runner" test/native/runner.c
exec npx tsx test/native/generate.ts --runner "$BUILD/runner" "$@"
