/* Shared support for the lab kernels: port I/O, the COM1 console, descriptor tables, traps. */
#ifndef LAB_H
#define LAB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* Selectors of the GDT set up by lab_cpu_init (the SYSENTER/SYSEXIT layout: kernel code,
 * kernel data, user code, user data in a row). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define SEL_TSS 0x28
#define SEL_LDT 0x30
#define SEL_PROBE 0x38 /* a ring-0 data segment with a distinctive limit (LAR/LSL/VERR/VERW) */
#define PROBE_LIMIT 0xabcd

struct trap_frame {
  u32 es, ds;
  u32 edi, esi, ebp, esp0, ebx, edx, ecx, eax;
  u32 vector, error;
  u32 eip, cs, eflags;
  u32 user_esp, user_ss; /* only when the trap came from ring 3 */
};

struct dtr {
  u16 limit;
  u32 base;
} __attribute__((packed));

extern u64 lab_gdt[];
extern u64 lab_idt[];
extern struct dtr lab_gdtr, lab_idtr;
extern u32 int_stack_top[];

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) {
  u8 v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void wrmsr(u32 msr, u32 lo, u32 hi) { __asm__ volatile("wrmsr" : : "c"(msr), "a"(lo), "d"(hi)); }

void lab_puts(const char *s);
void lab_putc(char c);
void lab_put_dec(u32 v);
void lab_put_u64(u64 v);
void lab_put_hex(u32 v);
/* Divides a 64-bit value by a 32-bit one (the quotient must fit in 32 bits per step). */
u64 lab_div64(u64 n, u32 d, u32 *rem);

/* GDT (with a TSS and an LDT), an IDT whose 256 gates all lead to lab_trap, COM1, PIC masked. */
void lab_cpu_init(const char *name);
void lab_set_gate(int vector, void (*handler)(void), int dpl);
void lab_exit(int status) __attribute__((noreturn));

/* A kernel's own trap hook: return 1 when it handled the trap (lab_trap then returns to the
 * frame as modified), 0 to let lab_trap recover (see lab_try) or report and stop. */
int kernel_trap(struct trap_frame *f);

/* Recovery from an expected fault: lab_setjmp returns 0, then 1 + vector after a trap. */
int lab_setjmp(u32 *buf) __attribute__((returns_twice));
void lab_longjmp(u32 *buf, int value) __attribute__((noreturn));
extern u32 *lab_catch;
extern u32 lab_caught_error;

#endif
