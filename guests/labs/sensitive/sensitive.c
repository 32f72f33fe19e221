/* sensitive: runs each sensitive-but-unprivileged instruction of Popek and Goldberg's analysis
 * of the x86 in kernel mode (ring 0) and prints, one line each on COM1,
 *   sensitive <name> observed=<value> expected=<value> ok|VIOLATION
 * where expected is what the kernel set up (what a correctly virtualized CPU must show).
 * A probe that faults prints observed=fault-<vector>. */
#include "../common/lab.h"

u32 probe_farcall(void), probe_farjmp(void), probe_farret(void), probe_iret(void);

static u32 checks, violations;
static u32 int_cs;

int kernel_trap(struct trap_frame *f) {
  if (f->vector != 0x81) return 0;
  int_cs = f->cs; /* INT n pushes the caller's CS: its RPL is the caller's CPL */
  return 1;
}

static void line(const char *name, int fault, u32 obs, u32 obs2, u32 exp, u32 exp2, int pair) {
  int ok = !fault && obs == exp && (!pair || obs2 == exp2);
  checks++;
  if (!ok) violations++;
  lab_puts("sensitive ");
  lab_puts(name);
  lab_puts(" observed=");
  if (fault) {
    lab_puts("fault-");
    lab_put_dec((u32)fault - 1);
  } else {
    lab_put_hex(obs);
    if (pair) {
      lab_putc(':');
      lab_put_hex(obs2);
    }
  }
  lab_puts(" expected=");
  lab_put_hex(exp);
  if (pair) {
    lab_putc(':');
    lab_put_hex(exp2);
  }
  lab_puts(ok ? " ok\n" : " VIOLATION\n");
}

static u32 jb[6];

/* Runs a probe with faults caught (a fault is a violation too). */
static void check(const char *name, u32 (*probe)(void), u32 expected) {
  int fault = lab_setjmp(jb);
  u32 obs = 0;
  if (!fault) {
    lab_catch = jb;
    obs = probe();
    lab_catch = 0;
  }
  line(name, fault, obs, 0, expected, 0, 0);
}

static struct dtr sdt;
static void check_dt(const char *name, int idt, struct dtr *expected) {
  int fault = lab_setjmp(jb);
  if (!fault) {
    lab_catch = jb;
    if (idt)
      __asm__ volatile("sidt %0" : "=m"(sdt));
    else
      __asm__ volatile("sgdt %0" : "=m"(sdt));
    lab_catch = 0;
  }
  line(name, fault, sdt.base, sdt.limit, expected->base, expected->limit, 1);
}

static u32 p_popf(void) {
  u32 f;
  __asm__ volatile("cli; pushfl; orl $0x200, (%%esp); popfl; pushfl; popl %0; cli" : "=r"(f) : : "memory", "cc");
  return f & 0x200;
}
static u32 p_pushf(void) {
  u32 f;
  __asm__ volatile("pushl $2; popfl; pushfl; popl %0" : "=r"(f) : : "memory", "cc");
  return f & 0x3200;
}
static u32 p_sldt(void) {
  u32 v = 0;
  __asm__ volatile("sldt %w0" : "+r"(v));
  return v;
}
static u32 p_smsw(void) {
  u32 v = 0;
  __asm__ volatile("smsw %w0" : "+r"(v));
  return v & 0xffff;
}
static u32 p_str(void) {
  u32 v = 0;
  __asm__ volatile("str %w0" : "+r"(v));
  return v;
}
static u32 p_lar(void) {
  u32 v = 0, ok;
  __asm__ volatile("larl %2, %0; setz %b1; movzbl %b1, %1" : "+r"(v), "=q"(ok) : "r"((u32)SEL_PROBE) : "cc");
  return ok ? v & 0x00f0ff00 : 0xffffffff;
}
static u32 p_lsl(void) {
  u32 v = 0, ok;
  __asm__ volatile("lsll %2, %0; setz %b1; movzbl %b1, %1" : "+r"(v), "=q"(ok) : "r"((u32)SEL_PROBE) : "cc");
  return ok ? v : 0xffffffff;
}
static u32 p_verr(void) {
  u32 ok;
  __asm__ volatile("verr %w1; setz %b0; movzbl %b0, %0" : "=q"(ok) : "r"((u32)SEL_PROBE) : "cc");
  return ok;
}
static u32 p_verw(void) {
  u32 ok;
  __asm__ volatile("verw %w1; setz %b0; movzbl %b0, %0" : "=q"(ok) : "r"((u32)SEL_PROBE) : "cc");
  return ok;
}
static u32 p_push_cs(void) {
  u32 v;
  __asm__ volatile("pushl %%cs; popl %0" : "=r"(v) : : "memory");
  return v & 0xffff;
}
static u32 p_mov_cs(void) {
  u32 v = 0;
  __asm__ volatile("movw %%cs, %w0" : "+r"(v));
  return v;
}
static u32 p_push_ss(void) {
  u32 v;
  __asm__ volatile("pushl %%ss; popl %0" : "=r"(v) : : "memory");
  return v & 0xffff;
}
static u32 p_mov_ss(void) {
  u32 v = 0;
  __asm__ volatile("movw %%ss, %w0" : "+r"(v));
  return v;
}
static u32 p_int(void) {
  int_cs = 0xffffffff;
  __asm__ volatile("int $0x81" : : : "memory");
  return int_cs & 0xffff;
}

void lab_main(u32 magic, u32 info) {
  (void)magic;
  (void)info;
  lab_cpu_init("sensitive");
  u32 cr0;
  __asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
  u32 lar_expected = (u32)(lab_gdt[SEL_PROBE >> 3] >> 32) & 0x00f0ff00;
  lab_puts("sensitive start cpl 0\n");

  check("popf", p_popf, 0x200);
  check("pushf", p_pushf, 0);
  check_dt("sgdt", 0, &lab_gdtr);
  check_dt("sidt", 1, &lab_idtr);
  check("sldt", p_sldt, SEL_LDT);
  check("smsw", p_smsw, cr0 & 0xffff);
  check("str", p_str, SEL_TSS);
  check("lar", p_lar, lar_expected);
  check("lsl", p_lsl, PROBE_LIMIT);
  check("verr", p_verr, 1);
  check("verw", p_verw, 1);
  check("push-cs", p_push_cs, SEL_KCODE);
  check("mov-cs", p_mov_cs, SEL_KCODE);
  check("push-ss", p_push_ss, SEL_KDATA);
  check("mov-ss", p_mov_ss, SEL_KDATA);
  check("far-call", probe_farcall, SEL_KCODE);
  check("far-jmp", probe_farjmp, SEL_KCODE);
  check("far-ret", probe_farret, SEL_KCODE);
  check("int", p_int, SEL_KCODE);
  check("iret", probe_iret, 0x3200);

  lab_puts("sensitive summary checks ");
  lab_put_dec(checks);
  lab_puts(" violations ");
  lab_put_dec(violations);
  lab_puts("\nsensitive done\n");
  lab_exit(0);
}
