// Where things live on the PC we emulate (QEMU's `pc` machine: i440FX + PIIX3), each constant
// with the document or machine that fixes it.

/** Port addresses. */
export const PORT = {
  // PC/AT (IBM 5170 Technical Reference): i8259A master and slave
  PIC_MASTER: 0x20,
  PIC_SLAVE: 0xa0,
  // PIIX/PIIX3 datasheet (ISA bridge), section "Edge/Level Control Registers"
  ELCR_MASTER: 0x4d0,
  ELCR_SLAVE: 0x4d1,
  // PC/AT: i8254 PIT channels 0-2 and the control word register
  PIT: 0x40,
  // PC/AT: system control port B (timer 2 gate, speaker, refresh toggle, channel check)
  SYSTEM_CONTROL_B: 0x61,
  // PC/AT: i8042 keyboard controller data and command/status
  I8042_DATA: 0x60,
  I8042_COMMAND: 0x64,
  // PC/AT: MC146818 RTC index (bit 7: NMI mask) and data
  RTC_INDEX: 0x70,
  RTC_DATA: 0x71,
  // PC/AT: manufacturing POST checkpoint port (also Linux's I/O delay port)
  POST: 0x80,
  // PS/2 (IBM PS/2 Model 50/60 Technical Reference): system control port A, fast A20 and reset
  SYSTEM_CONTROL_A: 0x92,
  // PC/AT: coprocessor error latch clear (0xF0) and coprocessor reset (0xF1)
  FPU_ERROR: 0xf0,
  // QEMU: isa-debug-exit as configured with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`
  DEBUG_EXIT: 0xf4,
  // Bochs "port E9 hack", also QEMU's debugcon default
  DEBUG_E9: 0xe9,
  // QEMU: the debugcon port SeaBIOS writes its log to (CONFIG_DEBUG_IO, 0x402)
  DEBUG_SEABIOS: 0x402,
  // PC/AT: 16550A UARTs (COM1-COM4 as the BIOS data area lists them)
  COM1: 0x3f8,
  COM2: 0x2f8,
  COM3: 0x3e8,
  COM4: 0x2e8,
  // QEMU fw_cfg (docs/specs/fw_cfg.rst): selector and data
  FW_CFG_SELECTOR: 0x510,
  FW_CFG_DATA: 0x511,
  // PCI Local Bus spec 2.1, configuration mechanism #1
  PCI_CONFIG_ADDRESS: 0xcf8,
  PCI_CONFIG_DATA: 0xcfc,
} as const;

/** ISA interrupt request lines on a PC/AT (i8259 inputs). */
export const IRQ = {
  PIT: 0, // PC/AT: timer channel 0 OUT
  KEYBOARD: 1, // PC/AT: i8042 keyboard output buffer full
  CASCADE: 2, // PC/AT: slave i8259 INT output on master IR2
  COM2: 3,
  COM1: 4,
  RTC: 8, // PC/AT: MC146818 IRQ#
  MOUSE: 12, // PS/2: i8042 auxiliary output buffer full
  FPU: 13, // PC/AT: x87 FERR#
  IDE_PRIMARY: 14,
  IDE_SECONDARY: 15,
} as const;

/** Physical memory addresses. */
export const MMIO = {
  // IBM VGA: text-mode frame buffer window (colour)
  VGA_WINDOW: 0xa0000,
  VGA_WINDOW_SIZE: 0x20000,
  // Intel 82093AA IOAPIC and the local APIC default base (Intel SDM vol. 3, 10.4.1)
  IOAPIC: 0xfec00000,
  LAPIC: 0xfee00000,
  // i440FX: the BIOS ROM alias at the top of the 4 GiB space
  BIOS_HIGH: 0xfffc0000,
} as const;

/** Oscillators. */
export const CLOCK_HZ = {
  // PC/AT: the 14.31818 MHz system crystal divided by 12 feeds the i8254
  PIT: 1_193_182,
  // MC146818 datasheet: the RTC time base
  RTC: 32_768,
  // 16550A: the 1.8432 MHz crystal divided by 16 gives 115200 baud at divisor 1
  UART_BASE_BAUD: 115_200,
} as const;
