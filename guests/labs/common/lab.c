/* Shared support for the lab kernels (see lab.h). */
#include "lab.h"

#define COM1 0x3f8

u64 lab_gdt[8] __attribute__((aligned(8)));
u64 lab_idt[256] __attribute__((aligned(8)));
static u64 lab_ldt[2] __attribute__((aligned(8)));
static u32 lab_tss[26] __attribute__((aligned(8)));
struct dtr lab_gdtr, lab_idtr;
u32 *lab_catch;
u32 lab_caught_error;
static const char *lab_name = "lab";
extern u32 isr_stub_table[256];

void lab_putc(char c) {
  if (c == '\n') lab_putc('\r');
  while ((inb(COM1 + 5) & 0x20) == 0) {
  }
  outb(COM1, (u8)c);
}

void lab_puts(const char *s) {
  while (*s) lab_putc(*s++);
}

u64 lab_div64(u64 n, u32 d, u32 *rem) {
  u32 hi = (u32)(n >> 32), lo = (u32)n, qhi = hi / d, r = hi % d, qlo;
  __asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
  if (rem) *rem = r;
  return ((u64)qhi << 32) | qlo;
}

void lab_put_u64(u64 v) {
  char buf[24];
  int i = 0;
  do {
    u32 r;
    v = lab_div64(v, 10, &r);
    buf[i++] = (char)('0' + r);
  } while (v);
  while (i) lab_putc(buf[--i]);
}

void lab_put_dec(u32 v) { lab_put_u64(v); }

void lab_put_hex(u32 v) {
  lab_puts("0x");
  for (int s = 28; s >= 0; s -= 4) lab_putc("0123456789abcdef"[(v >> s) & 15]);
}

static u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags) {
  u32 lo = (limit & 0xffff) | (base << 16);
  u32 hi = ((base >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) | (base & 0xff000000);
  return ((u64)hi << 32) | lo;
}

void lab_set_gate(int vector, void (*handler)(void), int dpl) {
  u32 off = (u32)handler;
  u32 lo = (off & 0xffff) | (SEL_KCODE << 16);
  u32 hi = (off & 0xffff0000) | 0x8e00 | ((u32)dpl << 13); /* 32-bit interrupt gate */
  lab_idt[vector] = ((u64)hi << 32) | lo;
}

void lab_cpu_init(const char *name) {
  lab_name = name;
  /* COM1: 115200 8N1, FIFO on, no interrupts (the console is polled). */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x80);
  outb(COM1 + 0, 0x01);
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03);
  outb(COM1 + 2, 0x07);
  outb(COM1 + 4, 0x03);
  /* Mask both PICs: the kernels run with interrupts off, and the short windows where IF=1
   * (the POPF and IRET probes) must not take a stray IRQ. */
  outb(0x21, 0xff);
  outb(0xa1, 0xff);

  lab_tss[1] = (u32)int_stack_top; /* esp0 */
  lab_tss[2] = SEL_KDATA;          /* ss0 */
  lab_tss[25] = 104 << 16;         /* I/O map base beyond the limit: no I/O bitmap */
  lab_ldt[1] = seg_desc(0, 0xfffff, 0x92, 0xc);

  lab_gdt[0] = 0;
  lab_gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc); /* 0x08 ring-0 code */
  lab_gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc); /* 0x10 ring-0 data */
  lab_gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc); /* 0x18 ring-3 code */
  lab_gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc); /* 0x20 ring-3 data */
  lab_gdt[5] = seg_desc((u32)lab_tss, 103, 0x89, 0x0);
  lab_gdt[6] = seg_desc((u32)lab_ldt, sizeof lab_ldt - 1, 0x82, 0x0);
  lab_gdt[7] = seg_desc(0, PROBE_LIMIT, 0x92, 0x4); /* byte granular, 32-bit */
  lab_gdtr.limit = sizeof lab_gdt - 1;
  lab_gdtr.base = (u32)lab_gdt;
  __asm__ volatile(
      "lgdt %0\n\t"
      "ljmp $0x08, $1f\n"
      "1:\n\t"
      "movw $0x10, %%ax\n\t"
      "movw %%ax, %%ds\n\t"
      "movw %%ax, %%es\n\t"
      "movw %%ax, %%ss\n\t"
      "movw %%ax, %%fs\n\t"
      "movw %%ax, %%gs\n\t"
      "movw $0x28, %%ax\n\t"
      "ltr %%ax\n\t"
      "movw $0x30, %%ax\n\t"
      "lldt %%ax"
      :
      : "m"(lab_gdtr)
      : "eax", "memory");

  for (int v = 0; v < 256; v++) lab_set_gate(v, (void (*)(void))isr_stub_table[v], 0);
  lab_idtr.limit = sizeof lab_idt - 1;
  lab_idtr.base = (u32)lab_idt;
  __asm__ volatile("lidt %0" : : "m"(lab_idtr) : "memory");
}

void lab_exit(int status) {
  outb(0xf4, (u8)status); /* isa-debug-exit */
  for (;;) __asm__ volatile("cli; hlt");
}

void lab_trap(struct trap_frame *f) {
  if (kernel_trap(f)) return;
  if (lab_catch) {
    u32 *buf = lab_catch;
    lab_catch = 0;
    lab_caught_error = f->error;
    lab_longjmp(buf, (int)f->vector + 1);
  }
  lab_puts(lab_name);
  lab_puts(" error: unexpected exception ");
  lab_put_dec(f->vector);
  lab_puts(" error code ");
  lab_put_hex(f->error);
  lab_puts(" at ");
  lab_put_hex(f->cs);
  lab_putc(':');
  lab_put_hex(f->eip);
  lab_putc('\n');
  lab_exit(1);
}
