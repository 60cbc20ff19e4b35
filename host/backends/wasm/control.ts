// The control block shared by the main thread and the kernel workers: one Int32Array over a
// SharedArrayBuffer (with a Float32Array view of the same bytes for f32 arguments).
//
// A dispatch is a list of independent jobs (kernel calls); every thread runs its share of each job,
// then the main thread waits for all workers: one barrier per dispatch, not per kernel.
//
// The barrier spins, then sleeps, on both sides: a worker spins on GEN for `spinLimit` loads, then
// counts itself in SLEEPERS and waits on GEN (the main thread notifies only when SLEEPERS > 0); the
// main thread spins on DONE for `spinLimit` loads, then sets MAIN_WAITING and waits on DONE (the
// worker whose increment completes DONE notifies only when MAIN_WAITING is set). Every access is a
// sequentially consistent Atomics operation, so a notify is never lost: either the notifier sees
// the waiting flag, or the waiter's own load sees the changed value before it sleeps.

export const CTRL = {
  GEN: 0, // bumped by the main thread to start a dispatch
  DONE: 1, // workers that finished the current dispatch
  SLEEPERS: 2, // workers blocked in Atomics.wait (the main thread notifies only then)
  NJOBS: 3,
  QUIT: 4,
  ERROR: 5, // 0, or 1 + the table index of a kernel that threw in a worker
  ERROR_WORKER: 6,
  DEAD: 7, // workers that could not start (their error went to stderr)
  ERROR_TEXT_LEN: 8, // bytes of the failing worker's message in the error text area
  MAIN_WAITING: 9, // 1 while the main thread sleeps in Atomics.wait on DONE (the last worker notifies)
  SWAP: 10, // 1: this dispatch is a module swap (each worker takes its new modules from its swap port), not jobs
} as const;

export const JOBS_BASE = 16;
export const MAX_JOBS = 32;
export const MAX_ARGS = 14;
export const JOB = {
  FN: 0, // kernel table index
  NARGS: 1,
  SPLIT_TOTAL: 2, // 0: only the main thread runs this job
  SPLIT_GRAIN: 3, // ranges are multiples of this (e.g. rows per tile)
  SPLIT_START_ARG: 4, // which arguments receive this thread's [start, end)
  SPLIT_END_ARG: 5,
  ARGS: 6,
} as const;
export const JOB_STRIDE = JOB.ARGS + MAX_ARGS;
/** The error text area (UTF-8, written by the worker that set ERROR) follows the jobs. */
export const ERROR_TEXT_BYTES = 512;
export const ERROR_TEXT_OFFSET = (JOBS_BASE + MAX_JOBS * JOB_STRIDE) * 4;
export const CTRL_INTS = JOBS_BASE + MAX_JOBS * JOB_STRIDE + ERROR_TEXT_BYTES / 4;

export function writeErrorText(sab: SharedArrayBuffer, ctl: Int32Array, message: string): void {
  const bytes = new TextEncoder().encode(message).subarray(0, ERROR_TEXT_BYTES);
  new Uint8Array(sab, ERROR_TEXT_OFFSET, ERROR_TEXT_BYTES).set(bytes);
  Atomics.store(ctl, CTRL.ERROR_TEXT_LEN, bytes.length);
}

export function readErrorText(sab: SharedArrayBuffer, ctl: Int32Array): string {
  const n = Atomics.load(ctl, CTRL.ERROR_TEXT_LEN);
  return new TextDecoder().decode(new Uint8Array(sab, ERROR_TEXT_OFFSET, n).slice());
}

/**
 * The next spin budget of a waiter when threads outnumber the cores: halved after a wait that ended
 * in Atomics.wait (the partner was late, likely off the CPU: spinning only kept its core from it),
 * grown by limit/64 after one that ended while spinning. Never below limit/64: a waiter that never
 * spins could never see a wait end while spinning, and would stay asleep-first for good.
 */
export function adaptSpin(budget: number, limit: number, slept: boolean): number {
  const step = limit >> 6 || (limit > 0 ? 1 : 0);
  return slept ? Math.max(step, budget >> 1) : Math.min(limit, budget + step);
}

/** This thread's share [start, end) of `total` items in units of `grain`, for thread t of n. */
export function shareOf(total: number, grain: number, t: number, n: number): [number, number] {
  const units = Math.ceil(total / grain);
  const per = Math.ceil(units / n);
  const start = Math.min(total, t * per * grain);
  const end = Math.min(total, (t + 1) * per * grain);
  return [start, end];
}

/** Runs thread t's share of every job in the control block. Shared by the main thread and the workers. */
export function runShare(ctl: Int32Array, ctlF: Float32Array, fns: Array<(...a: number[]) => unknown>, floatParams: boolean[][], t: number, n: number, scratch: number[]): void {
  const njobs = ctl[CTRL.NJOBS];
  for (let j = 0; j < njobs; j++) {
    const base = JOBS_BASE + j * JOB_STRIDE;
    const fn = ctl[base + JOB.FN];
    const nargs = ctl[base + JOB.NARGS];
    const total = ctl[base + JOB.SPLIT_TOTAL];
    if (total === 0 && t !== 0) continue;
    const floats = floatParams[fn];
    scratch.length = nargs;
    for (let a = 0; a < nargs; a++) scratch[a] = floats[a] ? ctlF[base + JOB.ARGS + a] : ctl[base + JOB.ARGS + a];
    if (total > 0) {
      const [start, end] = shareOf(total, ctl[base + JOB.SPLIT_GRAIN], t, n);
      if (start >= end) continue;
      scratch[ctl[base + JOB.SPLIT_START_ARG]] = start;
      scratch[ctl[base + JOB.SPLIT_END_ARG]] = end;
    }
    try {
      fns[fn](...scratch);
    } catch (cause) {
      throw new KernelTrap(fn, cause);
    }
  }
}

/** A kernel threw (a wasm trap, usually an out-of-bounds access): which one, and why. */
export class KernelTrap extends Error {
  constructor(readonly fn: number, override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}
