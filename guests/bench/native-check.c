// Runs the benchmark guests natively on the host CPU (32-bit process) and prints their
// checksums, to confirm bench/programs.ts computes the same values as the real hardware.
// Build and run: guests/bench/native-check.sh. The HLT at the end is patched to RET.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint32_t run(const char *path, uint32_t param) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  uint8_t *code = mmap((void *)0x10000, 0x10000, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (code == MAP_FAILED) { perror("mmap code"); exit(2); }
  size_t n = fread(code, 1, 0x10000, f);
  fclose(f);
  if (n == 0 || code[n - 1] != 0xf4) { fprintf(stderr, "%s: does not end with HLT\n", path); exit(2); }
  code[n - 1] = 0xc3;
  void *data = mmap((void *)0x100000, 0x30000, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (data == MAP_FAILED) { perror("mmap data"); exit(2); }
  uint32_t eax, ecx = param, edx = 0x10000;
  __asm__ volatile("pushl %%ebp\n\tcall *%%edx\n\tpopl %%ebp"
                   : "=a"(eax), "+c"(ecx), "+d"(edx)
                   :
                   : "ebx", "esi", "edi", "memory", "cc");
  munmap(data, 0x30000);
  munmap(code, 0x10000);
  return eax;
}

int main(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    uint32_t param = (uint32_t)strtoul(argv[i + 1], 0, 0);
    printf("%s %u %08x\n", argv[i], param, run(argv[i], param));
  }
  return 0;
}
