// The host's half of VM exits (KVM's userspace path, the role QEMU plays): exits the core does
// not handle itself arrive here synchronously. Port I/O exits decode the SDM's qualification
// (table 27-5) and go to the port bus; string I/O is handed back to the core's instruction
// emulator, as KVM emulates string I/O in the kernel.

import type { Cpu } from "../cpu.js";
import { ExitReason } from "../generated/abi.js";
import * as L from "../generated/layout.js";

export interface PortBus {
  read(port: number, size: number): number;
  write(port: number, size: number, value: number): void;
}

export interface ExitHandlerContext {
  cpu: Cpu;
  ports: PortBus;
  /** Hypercalls the core forwards to the host (pv console and the like); returns EAX. */
  hypercall?: (nr: number) => number | "stop";
  /** Sees each port I/O exit (one per IN/OUT, one per REP INS/OUTS resumption), before it is handled. */
  onIoExit?: (port: number, string: boolean) => void;
}

/** Decoded I/O exit qualification. */
export interface IoExit {
  port: number;
  size: number;
  input: boolean;
  string: boolean;
  rep: boolean;
  immediate: boolean;
}

export function decodeIoQualification(q: number): IoExit {
  return {
    size: (q & 7) + 1,
    input: (q & 8) !== 0,
    string: (q & 16) !== 0,
    rep: (q & 32) !== 0,
    immediate: (q & 64) !== 0,
    port: q >>> 16,
  };
}

/** Handles one host exit; returns a VMX_ACTION_*. */
export function handleHostExit(ctx: ExitHandlerContext): number {
  const { cpu } = ctx;
  const reason = cpu.u32(L.S_VMCS_EXIT_REASON) & 0xffff;
  if (reason === ExitReason.ioInstruction) {
    const io = decodeIoQualification(cpu.u32(L.S_VMCS_EXIT_QUALIFICATION));
    ctx.onIoExit?.(io.port, io.string);
    if (io.string) return L.VMX_ACTION_EMULATE;
    const mask = io.size === 1 ? 0xff : io.size === 2 ? 0xffff : 0xffffffff;
    const eax = cpu.reg(0);
    if (io.input) {
      const v = ctx.ports.read(io.port, io.size) & mask;
      cpu.setReg(0, ((eax & ~mask) | v) >>> 0);
    } else {
      ctx.ports.write(io.port, io.size, (eax & mask) >>> 0);
    }
    cpu.setU32(L.S_EIP, cpu.u32(L.S_VMCS_GUEST_RIP) + cpu.u32(L.S_VMCS_EXIT_INSN_LEN));
    return L.VMX_ACTION_RESUME;
  }
  if (reason === ExitReason.vmcall && ctx.hypercall) {
    const r = ctx.hypercall(cpu.reg(0));
    if (r === "stop") return L.VMX_ACTION_STOP;
    cpu.setReg(0, r >>> 0);
    return L.VMX_ACTION_RESUME;
  }
  // An exit this VMM has no handler for: stop, so the host reports it instead of guessing.
  return L.VMX_ACTION_STOP;
}
