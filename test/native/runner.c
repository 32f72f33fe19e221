/* Native oracle for the x86-vectors/1 environment pm32-flat-user.
 *
 * Build (cpu-diff.sh does it): gcc -m32 -static -O2 -fno-stack-protector -o runner runner.c
 *
 * Every test runs as CPL-3 code of this (32-bit) Linux process:
 *   - a 4 KiB RWX code page at 0x10000000, filled with 0xCC (INT3), then the test bytes;
 *   - a 64 KiB RW data page at 0x20000000, reset to byte(i) = (i*7+3) & 0xff before each test;
 *   - the x87 unit reset by FNINIT, FS and GS loaded with the flat user data selector, all
 *     general registers and EFLAGS loaded from the input line, then a jump to 0x10000000.
 * Every test ends in a signal: SIGTRAP from an INT3 of the code page is the normal end, the
 * others are exceptions (the vector is REG_TRAPNO, the error code REG_ERR, CR2 for #PF). The
 * handler records the state from the ucontext and edits the ucontext so that sigreturn resumes
 * the runner with its own stack and segments (no longjmp, no libc in the handler).
 *
 * Input, one test per line:  <hex bytes> <eax> <ecx> <edx> <ebx> <esp> <ebp> <esi> <edi> <eflags>
 * (numbers in hex). Output, one line per test:
 *   <status> <trapno> <err> <cr2> <eax> <ecx> <edx> <ebx> <esp> <ebp> <esi> <edi> <eflags> <eip> <signal> [off=val ...]
 * status: T = ended by the INT3 whose address is eip (eip already moved back by one),
 *         X = exception (trapno/err/cr2 as the kernel reported them, eip as reported),
 *         D = drop (timeout, or a signal with EIP outside the code page that is not an
 *             instruction-fetch #PF), followed by a reason word and nothing else.
 * The numbers are hex except the signal number (decimal). off=val lists the data-page bytes that
 * differ from the pattern (hex offset, hex value). RF and the other EFLAGS bits are raw: the
 * generator normalises them. The selectors are Linux's: CS=0x23, DS=ES=SS=0x2b, and FS=GS=0x2b
 * during a test (set here so that PUSH FS/GS and MOV r/m,FS/GS have known values).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x10000000u
#define CODE_SIZE 0x1000u
#define DATA_ADDR 0x20000000u
#define DATA_SIZE 0x10000u

/* Selector loaded into FS and GS for the test (the flat user data selector, as DS/ES/SS). */
uint32_t test_fs_gs;

uint32_t init_regs[9]; /* eax ecx edx ebx esp ebp esi edi eflags */
uint32_t host_esp;
uint32_t host_fs, host_gs;
uint32_t flag_stack[16];
uint32_t code_entry = CODE_ADDR;

static volatile uint32_t out_regs[10]; /* eax ecx edx ebx esp ebp esi edi eflags eip */
static volatile uint32_t out_trapno, out_err, out_cr2, out_sig;
static volatile int in_test;

static uint8_t pattern[DATA_SIZE];
static uint8_t altstack[1 << 16] __attribute__((aligned(16)));

void run_test(void);
void resume_point(void);

/* run_test: save the callee-saved registers and the stack, reset the x87 unit, load FS/GS,
 * EFLAGS and the GPRs, jump to the code page. resume_point is where the signal handler sends
 * the CPU back (with ESP = host_esp and the runner's segment registers). */
__asm__(".text\n"
        ".globl run_test\n"
        "run_test:\n"
        "  push %ebp\n"
        "  push %ebx\n"
        "  push %esi\n"
        "  push %edi\n"
        "  mov %esp, host_esp\n"
        "  fninit\n"
        "  mov test_fs_gs, %eax\n"
        "  mov %ax, %fs\n"
        "  mov %ax, %gs\n"
        "  mov $init_regs, %eax\n"
        "  mov $flag_stack+64, %esp\n"
        "  pushl 32(%eax)\n"
        "  popfl\n"
        "  mov 16(%eax), %esp\n"
        "  mov 4(%eax), %ecx\n"
        "  mov 8(%eax), %edx\n"
        "  mov 12(%eax), %ebx\n"
        "  mov 20(%eax), %ebp\n"
        "  mov 24(%eax), %esi\n"
        "  mov 28(%eax), %edi\n"
        "  mov 0(%eax), %eax\n"
        "  jmp *code_entry\n"
        ".globl resume_point\n"
        "resume_point:\n"
        "  mov host_esp, %esp\n"
        "  pop %edi\n"
        "  pop %esi\n"
        "  pop %ebx\n"
        "  pop %ebp\n"
        "  cld\n"
        "  ret\n");

__attribute__((used)) void handler_c(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  (void)si;
  if (!in_test) {
    if (sig == SIGALRM) return; /* a late timer: ignore */
    /* A fault in the runner itself: give up loudly. */
    static const char msg[] = "runner: unexpected signal outside a test\n";
    write(2, msg, sizeof msg - 1);
    _exit(3);
  }
  out_regs[0] = g[REG_EAX];
  out_regs[1] = g[REG_ECX];
  out_regs[2] = g[REG_EDX];
  out_regs[3] = g[REG_EBX];
  out_regs[4] = g[REG_ESP];
  out_regs[5] = g[REG_EBP];
  out_regs[6] = g[REG_ESI];
  out_regs[7] = g[REG_EDI];
  out_regs[8] = g[REG_EFL];
  out_regs[9] = g[REG_EIP];
  out_trapno = g[REG_TRAPNO];
  out_err = g[REG_ERR];
  out_cr2 = uc->uc_mcontext.cr2;
  out_sig = sig;
  in_test = 0;
  /* Resume the runner: its stack, its segments, clean flags. */
  g[REG_EIP] = (greg_t)(uintptr_t)resume_point;
  g[REG_ESP] = host_esp;
  g[REG_EFL] = 0x202;
  g[REG_FS] = host_fs;
  g[REG_GS] = host_gs;
}

/* The handler entry clears AC and DF first (a test may have set them) and then calls the C
 * handler with the usual cdecl arguments. */
void handler(int, siginfo_t *, void *);
__asm__(".text\n"
        ".globl handler\n"
        "handler:\n"
        "  pushf\n"
        "  andl $~0x40400, (%esp)\n"
        "  popf\n"
        "  jmp handler_c\n");

static int parse_hex_bytes(const char *s, uint8_t *out, size_t max) {
  size_t n = strlen(s);
  if (n % 2 || n / 2 > max) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return (int)(n / 2);
}

/* Ranges the generator relies on being unmapped (its #PF tests). */
static void check_unmapped(void) {
  static const uint32_t must_be_free[][2] = {
      {0x00000000u, 0x00010000u}, /* 16-bit effective addresses */
      {0x0fff0000u, 0x10000000u}, {0x10001000u, 0x10010000u}, {0x1fff0000u, 0x20000000u},
      {0x20010000u, 0x20020000u}, {0x30000000u, 0x30010000u},
  };
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
    if (lo == CODE_ADDR || lo == DATA_ADDR) continue;
    for (unsigned i = 0; i < sizeof must_be_free / sizeof *must_be_free; i++) {
      if (lo < must_be_free[i][1] && hi > must_be_free[i][0]) {
        fprintf(stderr, "runner: host mapping %s overlaps a range the tests expect unmapped\n", line);
        exit(2);
      }
    }
  }
  fclose(f);
}

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  uint8_t *code = mmap((void *)CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  uint8_t *data = mmap((void *)DATA_ADDR, DATA_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (void *)CODE_ADDR || data != (void *)DATA_ADDR) {
    perror("runner: mmap");
    return 1;
  }
  check_unmapped();
  for (uint32_t i = 0; i < DATA_SIZE; i++) pattern[i] = (uint8_t)(i * 7 + 3);

  uint16_t sel;
  __asm__ volatile("mov %%fs, %0" : "=r"(sel));
  host_fs = sel;
  __asm__ volatile("mov %%gs, %0" : "=r"(sel));
  host_gs = sel;
  __asm__ volatile("mov %%ds, %0" : "=r"(sel));
  test_fs_gs = sel;

  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL)) {
    perror("runner: sigaltstack");
    return 1;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigfillset(&sa.sa_mask);
  int sigs[] = {SIGTRAP, SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGALRM};
  for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &sa, NULL);

  uint16_t cs, ds;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  __asm__ volatile("mov %%ds, %0" : "=r"(ds));
  fprintf(stderr, "runner: cs=%#x ds=ss=es=%#x test fs=gs=%#x\n", cs, ds, test_fs_gs);

  static char line[65536];
  static char hex[16384];
  static uint8_t bytes[CODE_SIZE];
  struct itimerval arm = {{0, 0}, {0, 200000}}, disarm = {{0, 0}, {0, 0}};
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%16383s %x %x %x %x %x %x %x %x %x", hex, &init_regs[0], &init_regs[1], &init_regs[2],
               &init_regs[3], &init_regs[4], &init_regs[5], &init_regs[6], &init_regs[7], &init_regs[8]) != 10) {
      printf("D parse\n");
      continue;
    }
    int n = parse_hex_bytes(hex, bytes, CODE_SIZE);
    if (n < 0) {
      printf("D parse\n");
      continue;
    }
    memset(code, 0xCC, CODE_SIZE);
    memcpy(code, bytes, (size_t)n);
    memcpy(data, pattern, DATA_SIZE);
    out_sig = 0;
    in_test = 1;
    setitimer(ITIMER_REAL, &arm, NULL);
    run_test();
    setitimer(ITIMER_REAL, &disarm, NULL);
    in_test = 0;

    uint32_t eip = out_regs[9], trapno = out_trapno;
    char status = 'X';
    if (out_sig == SIGALRM) {
      printf("D timeout\n");
      continue;
    }
    if (out_sig == SIGTRAP) {
      /* Normal end: an INT3 of the code page (trap: eip is after it). */
      if (trapno != 3 || eip - 1 < CODE_ADDR || eip - 1 >= CODE_ADDR + CODE_SIZE || code[eip - 1 - CODE_ADDR] != 0xCC) {
        printf("D sigtrap-%u-%08x\n", trapno, eip);
        continue;
      }
      status = 'T';
      eip -= 1;
    } else {
      int in_code = eip >= CODE_ADDR && eip < CODE_ADDR + CODE_SIZE;
      int fetch_fault = trapno == 14 && out_cr2 == eip;
      if (!in_code && !fetch_fault) {
        printf("D eip-outside-%08x-sig%u-trap%u\n", eip, out_sig, trapno);
        continue;
      }
    }
    printf("%c %x %x %x %x %x %x %x %x %x %x %x %x %x", status, trapno, out_err, out_cr2, out_regs[0], out_regs[1],
           out_regs[2], out_regs[3], out_regs[4], out_regs[5], out_regs[6], out_regs[7], out_regs[8], eip);
    printf(" %u", out_sig);
    for (uint32_t i = 0; i < DATA_SIZE; i += 64) {
      if (memcmp(data + i, pattern + i, 64) == 0) continue;
      for (uint32_t j = i; j < i + 64; j++)
        if (data[j] != pattern[j]) printf(" %x=%x", j, data[j]);
    }
    putchar('\n');
  }
  return 0;
}
