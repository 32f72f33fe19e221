// Trap and emulate (VIRT_TRAP), classic style on an x86 without help: once the guest is in
// protected mode its kernel runs deprivileged at CPL 1 (trap-world.ts) on the VMM's shadow
// descriptor tables (trap-tables.ts), and the VMM takes every exception and interrupt first.
// A #GP is re-executed once in the guest's view of the CPU: if it succeeds there it was a
// privileged instruction, now emulated; if it faults again the fault is the guest's and is
// reflected through the guest's IDT, as are all other exceptions, INT n and external
// interrupts. The sensitive unprivileged instructions (PUSHF, POPF, SGDT, PUSH CS, ...) never
// trap, so they see the real, deprivileged machine: that is what this mode demonstrates.
// Real mode is not virtualized: the guest owns the machine until it sets CR0.PE.

import { emulateOnce } from "../cpu/interp";
import { deliver } from "../cpu/interrupts";
import { CR0_PE, CS, cpl, FLAG_IF, FLAG_IOPL, getEip, mode, segSel, TR, trapMode } from "../cpu/state";
import { hostAckInterrupt } from "../host";
import {
  S_CR,
  S_EFLAGS,
  S_GDTR_BASE,
  S_HALTED,
  S_IRQ_COUNT,
  S_TRAP_EMULATED,
  S_TRAP_REFLECTED,
} from "../generated/layout";
import { KIND_TRAP, traceEvent, WHERE_CORE } from "./events";
import { refreshGate, syncKernelStack } from "./trap-tables";
import { areaLinear, GDT_OFFSET, realIf, setTv, tv, VMM_TSS_SEL } from "./trap-state";
import { enterGuestView, giveBack, leaveGuestView, takeOver } from "./trap-world";
import { TRAP_REASON_EXTERNAL, TRAP_REASON_SOFTWARE, TV_ACTIVE, TV_FLAGS } from "../generated/abi";

export { trapAreaEntry, trapOwnsLinear } from "./trap-tables";

const VFLAGS: u32 = FLAG_IF | FLAG_IOPL;

// The mode word lives with the state views (the MMU reads it too); re-exported for the run loop.
export { trapMode } from "../cpu/state";

/** The VMM is running the guest deprivileged (protected mode, not virtual-8086). */
@inline function deprivileged(): bool {
  return tv(TV_ACTIVE) != 0 && mode() == 1;
}

/** Set while the VMM executes one guest instruction in the guest's view. */
let emulating = false;
/** That instruction faulted in the guest's view too (the fault was reflected). */
let emulationFaulted = false;

/**
 * An exception or software interrupt reached delivery (EIP already set as for delivery). The
 * VMM emulates the faulting instruction or reflects the event to the guest; returns true when
 * it did (the core must not deliver it itself).
 */
export function trapIntercept(vector: u32, error: i32, software: bool, eip: u32): bool {
  if (!deprivileged() && !emulating) return false;
  if (emulating) {
    // Re-executed with the guest's privileges, the instruction still faults: the fault is the
    // guest's own (already counted as the #GP that brought the VMM in).
    emulationFaulted = true;
    leaveGuestView();
    if (deprivileged()) reflect(vector, error, software, false, eip);
    else deliver(vector, error, software, false, eip);
    return true;
  }
  const reason: u32 = software && vector != 3 && vector != 4 ? TRAP_REASON_SOFTWARE : vector;
  traceEvent(KIND_TRAP, reason, WHERE_CORE, <u32>error, 0);
  if (vector == 13 && !software) emulate();
  else reflect(vector, error, software, false, eip);
  return true;
}

/** An external interrupt is requested: returns true when the VMM took it (reflected or held). */
export function trapExternalInterrupt(): bool {
  if (!deprivileged()) return false;
  // The guest's IF is 0: the request stays pending at the PIC until the guest's STI (which
  // traps) sets it. A POPF or IRET that sets it at CPL 1 goes unseen (the x86's flaw).
  if ((tv(TV_FLAGS) & FLAG_IF) == 0) return true;
  store<u32>(S_HALTED, 0);
  const vector = hostAckInterrupt() & 0xff;
  store<u32>(S_IRQ_COUNT, load<u32>(S_IRQ_COUNT) + 1);
  traceEvent(KIND_TRAP, TRAP_REASON_EXTERNAL, WHERE_CORE, vector, 0);
  reflect(vector, -1, false, true, getEip());
  return true;
}

/** Runs the trapped instruction once in the guest's view of the CPU. */
function emulate(): void {
  enterGuestView();
  emulating = true;
  emulationFaulted = false;
  emulateOnce();
  emulating = false;
  if (emulationFaulted) return;
  leaveGuestView();
  store<u32>(S_TRAP_EMULATED, load<u32>(S_TRAP_EMULATED) + 1);
}

/**
 * Delivers an event to the guest through its IDT (the shadow copy, whose gate has just been
 * refreshed) as the virtual CPU would: the frame holds the guest's IF and IOPL, and an
 * interrupt gate clears the guest's IF. The real IF stays 1.
 */
function reflect(vector: u32, error: i32, software: bool, external: bool, eip: u32): void {
  store<u32>(S_TRAP_REFLECTED, load<u32>(S_TRAP_REFLECTED) + 1);
  refreshGate(vector);
  // Faults while delivering go through these gates too.
  refreshGate(8);
  for (let v: u32 = 10; v <= 14; v++) refreshGate(v);
  if (cpl() == 3) syncKernelStack();
  store<u32>(S_EFLAGS, (load<u32>(S_EFLAGS) & ~VFLAGS) | tv(TV_FLAGS));
  deliver(vector, error, software, external, eip);
  setTv(TV_FLAGS, load<u32>(S_EFLAGS) & VFLAGS);
  store<u32>(S_EFLAGS, (load<u32>(S_EFLAGS) & ~VFLAGS) | FLAG_IF);
}

/**
 * run() is starting: a guest in protected mode that is not (or no longer, after the host
 * loaded state) deprivileged is taken over.
 */
export function trapBeforeRun(): void {
  if ((load<u32>(S_CR) & CR0_PE) == 0 || mode() != 1) return;
  const c = cpl();
  if (
    tv(TV_ACTIVE) == 0 ||
    c == 0 ||
    (c != 3 && (segSel(CS) & 3) != c) ||
    (load<u32>(S_EFLAGS) & VFLAGS) != realIf() ||
    load<u32>(S_GDTR_BASE) != areaLinear(GDT_OFFSET) ||
    segSel(TR) != VMM_TSS_SEL
  ) {
    takeOver();
  }
}

/** CR0 was written outside the VMM's emulation (real-mode guest code, or the host). */
export function trapCr0Written(): void {
  if (emulating) return;
  const pe = (load<u32>(S_CR) & CR0_PE) != 0;
  if (pe && tv(TV_ACTIVE) == 0 && mode() == 1) takeOver();
  else if (!pe && tv(TV_ACTIVE) != 0) giveBack();
}
