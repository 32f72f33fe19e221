// Guest faults are values: a routine that faults records the exception here and returns; the
// interpreter delivers it after the instruction unwinds. No host exception is ever thrown.

import { S_EXC_COUNT } from "../generated/layout";

export const VEC_DE: u32 = 0;
export const VEC_DB: u32 = 1;
export const VEC_NMI: u32 = 2;
export const VEC_BP: u32 = 3;
export const VEC_OF: u32 = 4;
export const VEC_BR: u32 = 5;
export const VEC_UD: u32 = 6;
export const VEC_NM: u32 = 7;
export const VEC_DF: u32 = 8;
export const VEC_TS: u32 = 10;
export const VEC_NP: u32 = 11;
export const VEC_SS: u32 = 12;
export const VEC_GP: u32 = 13;
export const VEC_PF: u32 = 14;
export const VEC_MF: u32 = 16;
export const VEC_AC: u32 = 17;

/** No error code is pushed for this exception. */
export const NO_ERROR: i32 = -1;

/** An exception is pending: the current instruction must stop and change nothing more. */
export let faulted: bool = false;
export let faultVector: u32 = 0;
export let faultError: i32 = NO_ERROR;
/** The fault is a trap-like event reported after the instruction (INT n, INTO, INT3, single-step). */
export let faultIsTrap: bool = false;
/** Software interrupt (INT n / INT3 / INTO): privilege checks against the gate's DPL apply. */
export let faultIsSoftware: bool = false;

export function raise(vector: u32, error: i32): void {
  if (faulted) return; // the first fault of an instruction wins
  faulted = true;
  faultVector = vector;
  faultError = error;
  faultIsTrap = false;
  faultIsSoftware = false;
  const p = S_EXC_COUNT + (vector << 2);
  if (vector < 32) store<u32>(p, load<u32>(p) + 1);
}

/** INT n, INT3, INTO: delivered after the instruction, with the gate-DPL check. */
export function raiseSoftware(vector: u32): void {
  faulted = true;
  faultVector = vector;
  faultError = NO_ERROR;
  faultIsTrap = true;
  faultIsSoftware = true;
}

export function clearFault(): void {
  faulted = false;
}

@inline export function gp(err: u32): void {
  raise(VEC_GP, <i32>err);
}
@inline export function ud(): void {
  raise(VEC_UD, NO_ERROR);
}
@inline export function ssFault(err: u32): void {
  raise(VEC_SS, <i32>err);
}
@inline export function npFault(err: u32): void {
  raise(VEC_NP, <i32>err);
}
@inline export function tsFault(err: u32): void {
  raise(VEC_TS, <i32>err);
}
@inline export function divideError(): void {
  raise(VEC_DE, NO_ERROR);
}
