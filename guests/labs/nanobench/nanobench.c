/* nanobench: Adams & Agesen's nanobenchmarks for a 32-bit guest, timed with RDTSC and printed
 * on COM1 as `nanobench <name> <iterations> <total-cycles> <cycles-per-op>`. */
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
  *pte = saved;
  __asm__ volatile("invlpg (%0)" : : "r"(ptw_page) : "memory");
  report("ptwrite");

  lab_puts("nanobench done\n");
  lab_exit(0);
}
