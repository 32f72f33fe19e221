import { beforeEach, describe, expect, it } from "vitest";
import { IrqLine } from "../../devices/bus/irq.js";
import { PortBus } from "../../devices/bus/port-bus.js";
import { ManualClock } from "../../devices/clock.js";
import { IIR, Uart } from "../../devices/uart.js";

const COM1 = 0x3f8;

function setup(withClock = true) {
  const clock = new ManualClock();
  const bus = new PortBus();
  const sent: number[] = [];
  const irq = new IrqLine({ setIrq() {} }, 4);
  const uart = new Uart({ base: COM1, irq, onTransmit: (b) => sent.push(b), clock: withClock ? clock : undefined });
  uart.attach(bus);
  const out = (reg: number, v: number) => bus.write(COM1 + reg, 1, v);
  const inb = (reg: number) => bus.read(COM1 + reg, 1);
  return { clock, bus, uart, irq, sent, out, inb };
}

describe("16550A UART", () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
  });

  it("transmits THR writes to the host and keeps THRE/TEMT set", () => {
    for (const c of "hi\n") s.out(0, c.charCodeAt(0));
    expect(String.fromCharCode(...s.sent)).toBe("hi\n");
    expect(s.inb(5) & 0x60).toBe(0x60);
    expect(s.uart.txCount).toBe(3);
  });

  it("divisor latch behind DLAB", () => {
    s.out(3, 0x80);
    s.out(0, 0x01);
    s.out(1, 0x00);
    expect(s.inb(0)).toBe(0x01);
    expect(s.inb(1)).toBe(0x00);
    s.out(3, 0x03); // 8N1
    expect(s.uart.baud).toBe(115200);
    expect(s.inb(3)).toBe(0x03);
    s.out(1, 0x05);
    expect(s.inb(1)).toBe(0x05); // IER again
    expect(s.sent).toEqual([]); // DLL writes are not transmitted
  });

  it("receives host bytes: DR, RBR, and the received-data interrupt", () => {
    s.out(4, 0x08); // OUT2: interrupts reach the bus
    s.out(1, 0x01); // ERBFI
    expect(s.irq.level).toBe(false);
    expect(s.inb(2)).toBe(IIR.NONE);
    s.uart.receive("ab");
    expect(s.irq.level).toBe(true);
    expect(s.inb(2)).toBe(IIR.RX_DATA);
    expect(s.inb(5) & 0x01).toBe(1);
    expect(s.inb(0)).toBe(0x61);
    expect(s.inb(0)).toBe(0x62); // non-FIFO mode: refilled from the host queue
    expect(s.inb(5) & 0x01).toBe(0);
    expect(s.irq.level).toBe(false);
  });

  it("OUT2 gates the interrupt onto the ISA line", () => {
    s.out(1, 0x01);
    s.uart.receive("x");
    expect(s.inb(2)).toBe(IIR.RX_DATA);
    expect(s.irq.level).toBe(false);
    s.out(4, 0x0b);
    expect(s.irq.level).toBe(true);
  });

  it("FIFO trigger levels and the character timeout", () => {
    s.out(2, 0x87); // FIFO on, clear both, trigger 8
    expect(s.inb(2) & 0xc0).toBe(0xc0);
    s.out(3, 0x03);
    s.out(4, 0x08);
    s.out(1, 0x01);
    s.uart.receive("12345");
    expect(s.inb(2) & 0x0f).toBe(IIR.NONE); // below trigger, no timeout yet
    const deadline = s.uart.nextDeadlineNs();
    // 4 characters of 10 bits at 9600 baud (the divisor BIOSes leave: 12).
    expect(deadline).toBe(Math.ceil((40 * 1e9) / 9600));
    s.clock.set(deadline);
    s.uart.advance(deadline);
    expect(s.irq.level).toBe(true);
    expect(s.inb(2) & 0x0f).toBe(IIR.RX_TIMEOUT);
    expect(s.uart.nextDeadlineNs()).toBe(Number.POSITIVE_INFINITY); // reported: no busy loop
    expect(s.inb(0)).toBe(0x31); // reading restarts the timeout
    expect(s.inb(2) & 0x0f).toBe(IIR.NONE);
    s.uart.receive("6789abcdefghijklmnop");
    expect(s.inb(2) & 0x0f).toBe(IIR.RX_DATA); // 16 in the FIFO >= 8
    expect(s.uart.pendingInput).toBe(20 - 12);
    let got = "";
    while (s.inb(5) & 1) got += String.fromCharCode(s.inb(0));
    expect(got).toBe("2345" + "6789abcdefghijklmnop");
  });

  it("FIFO trigger 14 and 1; FCR clears the receive FIFO", () => {
    s.out(2, 0xc1);
    s.out(1, 0x01);
    s.uart.receive("0123456789abc");
    expect(s.inb(2) & 0x0f).not.toBe(IIR.RX_DATA);
    s.uart.receive("d");
    expect(s.inb(2) & 0x0f).toBe(IIR.RX_DATA);
    s.out(2, 0x03); // clear receive FIFO, trigger 1
    expect(s.inb(5) & 1).toBe(0);
    expect(s.inb(2) & 0x0f).toBe(IIR.NONE);
  });

  it("THR-empty interrupt: raised on enable and after each write, cleared by reading IIR", () => {
    s.out(4, 0x08);
    s.out(1, 0x02);
    expect(s.irq.level).toBe(true);
    expect(s.inb(2)).toBe(IIR.THR_EMPTY);
    expect(s.inb(2)).toBe(IIR.NONE);
    expect(s.irq.level).toBe(false);
    s.out(0, 0x41);
    expect(s.inb(2)).toBe(IIR.THR_EMPTY);
  });

  it("interrupt priority: line status > received data > THR empty > modem status", () => {
    s.out(4, 0x1a); // loopback with RTS and OUT2: DSR drops (DTR is off)
    s.out(1, 0x0f);
    // Modem status: delta DSR; THRE pending from enabling ETBEI.
    expect(s.inb(2)).toBe(IIR.THR_EMPTY);
    expect(s.inb(2)).toBe(IIR.MODEM_STATUS);
    s.inb(6);
    expect(s.inb(2)).toBe(IIR.NONE);
    s.out(0, 0x55); // loops back: data ready, THRE again
    s.out(0, 0x56); // overrun (no FIFO)
    expect(s.inb(2)).toBe(IIR.LINE_STATUS);
    expect(s.inb(5) & 0x03).toBe(0x03); // OE and DR; reading LSR clears OE
    expect(s.inb(2)).toBe(IIR.RX_DATA);
    expect(s.inb(0)).toBe(0x56);
    expect(s.inb(2)).toBe(IIR.THR_EMPTY);
    expect(s.inb(2)).toBe(IIR.NONE);
  });

  it("loopback: output bits appear in MSR as Linux's 8250 probe expects", () => {
    // drivers/tty/serial/8250/8250_port.c autoconfig: MCR = LOOP, MSR & 0xF0 == 0;
    // MCR = LOOP | RTS | OUT2 (0x1A), MSR & 0xF0 == 0x90.
    s.out(4, 0x10);
    expect(s.inb(6) & 0xf0).toBe(0);
    s.out(4, 0x1a);
    expect(s.inb(6) & 0xf0).toBe(0x90);
    s.out(4, 0x1f);
    expect(s.inb(6)).toBe(0xf0 | 0x02); // all lines; delta DSR (RI rose: TERI is for falling)
    s.out(4, 0x10);
    expect(s.inb(6) & 0x0f).toBe(0x0f & (0x01 | 0x02 | 0x04 | 0x08)); // TERI on RI falling
    // Loopback data does not reach the host; host input waits.
    s.uart.receive("z");
    s.out(0, 0x42);
    expect(s.sent).toEqual([]);
    expect(s.inb(0)).toBe(0x42);
    expect(s.inb(5) & 1).toBe(0);
    s.out(4, 0x00);
    expect(s.inb(0)).toBe(0x7a);
    // Out of loopback: MSR follows the host's modem inputs (CTS, DSR, DCD by default).
    expect(s.inb(6) & 0xf0).toBe(0xb0);
  });

  it("FIFO-mode overrun keeps the FIFO and flags OE", () => {
    s.out(2, 0x01);
    s.out(4, 0x10);
    for (let i = 0; i < 17; i++) s.out(0, i);
    const lsr = s.inb(5);
    expect(lsr & 0x03).toBe(0x03);
    expect(s.inb(5) & 0x02).toBe(0);
    const got = [];
    while (s.inb(5) & 1) got.push(s.inb(0));
    expect(got).toEqual([...Array(16).keys()]);
  });

  it("scratch register and modem inputs with delta bits", () => {
    s.out(7, 0xa5);
    expect(s.inb(7)).toBe(0xa5);
    s.inb(6);
    s.out(4, 0x08);
    s.out(1, 0x08);
    s.uart.setModemInputs({ dcd: false, ri: true });
    expect(s.irq.level).toBe(true);
    expect(s.inb(2)).toBe(IIR.MODEM_STATUS);
    expect(s.inb(6)).toBe(0x10 | 0x20 | 0x40 | 0x08);
    s.uart.setModemInputs({ ri: false });
    expect(s.inb(6) & 0x04).toBe(0x04);
  });

  it("without a clock the timeout is immediate", () => {
    const t = setup(false);
    t.out(2, 0xc1);
    t.out(1, 0x01);
    t.uart.receive("a");
    expect(t.inb(2) & 0x0f).toBe(IIR.RX_TIMEOUT);
  });
});
