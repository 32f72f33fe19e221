// A Multiboot kernel with symbols for the gdb stub's test (test/cli/gdb.test.ts): it calls
// add_step ten times, counting in `counter`, then writes 0 to isa-debug-exit (status 1).
// Built by build.sh (gcc -m32 and ld); the ELF is committed with its symbols.

#define MULTIBOOT_MAGIC 0x1BADB002u

__attribute__((section(".multiboot"), used, aligned(4))) static const unsigned multiboot_header[3] = {
    MULTIBOOT_MAGIC, 0, -MULTIBOOT_MAGIC};

volatile unsigned counter;
unsigned data_word = 0x12345678;
static unsigned char stack[4096] __attribute__((aligned(16)));

static void outb(unsigned short port, unsigned char v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

__attribute__((noinline)) unsigned add_step(unsigned x) {
  counter += x;
  return counter;
}

__attribute__((noreturn)) void kmain(void) {
  for (unsigned i = 1; i <= 10; i++) add_step(i);
  outb(0xf4, 0);
  for (;;) __asm__ volatile("cli; hlt");
}

__attribute__((naked, noreturn)) void _start(void) {
  __asm__ volatile("mov %0, %%esp\n call kmain" : : "i"(stack + sizeof stack));
}
