/* nanobench: Adams & Agesen's nanobenchmarks for a 32-bit guest, timed with RDTSC and printed
 * on COM1 as `nanobench <name> <iterations> <total-cycles> <cycles-per-op>`.
 *
 * Built with -DPV it is the pv mode's guest (nanobench-pv.elf): it prints through the console
 * hypercall, and its privileged-register and page-table benchmarks use hypercalls instead of
 * privileged instructions (bench.asm). The hypercall ABI is docs/hypercalls.md. */
#include "../common/lab.h"

#ifndef ITERS
#define ITERS 1000
#endif
#define MAPPED_MB 16

extern u32 bench_iters, pf_probe_addr;
extern u64 bench_t0, bench_t1;
void enter_user(void (*fn)(void), u32 user_esp);
void int80_handler(void), sysenter_entry(void), pf_handler(void), de_handler(void);
void user_int80(void), user_sysenter(void), user_pgfault(void), user_divzero(void);
void k_in80(u32), k_clts(u32), k_callret(u32), k_ptwrite(u32, u32 *, void *);

#ifdef PV
#define PV_HC_CONSOLE_WRITE 64
#define PV_HC_MMU_UPDATE 65

/* VMCALL: EAX = number, EBX and ECX = arguments, result in EAX. */
static int hypercall2(u32 nr, u32 a, u32 b) {
  int r;
  __asm__ volatile("vmcall" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory");
  return r;
}

/* The console: a line at a time, one hypercall per line (no port I/O per character). */
static char line[128];
static u32 line_len;

static void out_putc(char c) {
  if (c == '\n') out_putc('\r');
  if (line_len < sizeof line) line[line_len++] = c;
  if (c == '\n' || line_len == sizeof line) {
    hypercall2(PV_HC_CONSOLE_WRITE, (u32)line, line_len); /* identity map: the address is the GPA */
    line_len = 0;
  }
}

static void out_puts(const char *s) {
  while (*s) out_putc(*s++);
}

static void out_put_u64(u64 v) {
  char buf[24];
  int i = 0;
  do {
    u32 r;
    v = lab_div64(v, 10, &r);
    buf[i++] = (char)('0' + r);
  } while (v);
  while (i) out_putc(buf[--i]);
}

/* A PTE write outside the timed loop: a batch of one (the hypercall flushes the TLB). */
static void pte_write(u32 *pte, u32 value) {
  static u32 one[2];
  one[0] = (u32)pte;
  one[1] = value;
  if (hypercall2(PV_HC_MMU_UPDATE, (u32)one, 1) != 1) {
    out_puts("nanobench error: page-table update refused\n");
    lab_exit(1);
  }
}

extern u32 pt_error;
/* Everything below prints with the lab_* names; in the pv build they mean the hypercall console. */
#define lab_putc out_putc
#define lab_puts out_puts
#define lab_put_dec out_put_u64
#define lab_put_u64 out_put_u64
#endif

static u32 page_dir[1024] __attribute__((aligned(4096)));
static u32 page_tables[MAPPED_MB / 4][1024] __attribute__((aligned(4096)));
static u8 pf_page[4096] __attribute__((aligned(4096)));  /* left not present */
static u8 ptw_page[4096] __attribute__((aligned(4096))); /* its PTE is rewritten */
static u8 user_stack[8192] __attribute__((aligned(16)));

int kernel_trap(struct trap_frame *f) {
  (void)f;
  return 0;
}

static u32 *pte_of(void *p) {
  u32 a = (u32)p;
  return &page_tables[a >> 22][(a >> 12) & 1023];
}

/* Identity map of the first MAPPED_MB MiB in 4 KiB pages, user-accessible (the ring-3 loops
 * run from the kernel image); CR0.WP on. */
static void paging_init(void) {
  for (u32 t = 0; t < MAPPED_MB / 4; t++) {
    for (u32 i = 0; i < 1024; i++) page_tables[t][i] = ((t << 22) | (i << 12)) | 0x7;
    page_dir[t] = (u32)page_tables[t] | 0x7;
  }
  *pte_of(pf_page) &= ~1u;
  __asm__ volatile(
      "movl %0, %%cr3\n\t"
      "movl %%cr0, %%eax\n\t"
      "orl $0x80010000, %%eax\n\t"
      "movl %%eax, %%cr0"
      :
      : "r"(page_dir)
      : "eax", "memory");
}

static void report(const char *name) {
  u64 total = bench_t1 - bench_t0;
  u32 frac;
  u64 whole = lab_div64(total, bench_iters, &frac);
  u32 hundredths = (u32)lab_div64((u64)frac * 100, bench_iters, 0);
  lab_puts("nanobench ");
  lab_puts(name);
  lab_putc(' ');
  lab_put_dec(bench_iters);
  lab_putc(' ');
  lab_put_u64(total);
  lab_putc(' ');
  lab_put_u64(whole);
  lab_putc('.');
  lab_putc((char)('0' + hundredths / 10));
  lab_putc((char)('0' + hundredths % 10));
  lab_putc('\n');
}

static void user(const char *name, void (*fn)(void)) {
  enter_user(fn, (u32)(user_stack + sizeof user_stack));
  report(name);
}

void lab_main(u32 magic, u32 info) {
  (void)magic;
  (void)info;
  lab_cpu_init("nanobench");
  lab_set_gate(0, de_handler, 0);
  lab_set_gate(14, pf_handler, 0);
  lab_set_gate(0x80, int80_handler, 3);
  wrmsr(0x174, SEL_KCODE, 0); /* IA32_SYSENTER_CS */
  wrmsr(0x175, (u32)int_stack_top, 0);
  wrmsr(0x176, (u32)sysenter_entry, 0);
  paging_init();
  bench_iters = ITERS;
  pf_probe_addr = (u32)pf_page;
  lab_puts("nanobench start iterations ");
  lab_put_dec(ITERS);
  lab_putc('\n');

  user("syscall-int80", user_int80);
  user("syscall-sysenter", user_sysenter);
  k_in80(ITERS);
  report("in-port80");
  k_clts(ITERS);
  report("privreg-clts");
  k_callret(ITERS);
  report("callret");
  user("pgfault", user_pgfault);
  user("divzero", user_divzero);
  u32 *pte = pte_of(ptw_page), saved = *pte;
  k_ptwrite(ITERS, pte, ptw_page);
#ifdef PV
  if (pt_error) {
    out_puts("nanobench error: batched page-table update refused\n");
    lab_exit(1);
  }
  pte_write(pte, saved);
#else
  *pte = saved;
  __asm__ volatile("invlpg (%0)" : : "r"(ptw_page) : "memory");
#endif
  report("ptwrite");

  lab_puts("nanobench done\n");
  lab_exit(0);
}
