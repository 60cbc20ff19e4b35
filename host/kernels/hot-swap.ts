// Hot swap mechanics: the step boundary, the switch on every kernel thread at once, and the watch
// after it. The engine runs one step at a time (the Scheduler awaits each), and every step goes
// through `guard(model)`: a swap or rollback waits for the step in flight to end and runs before the
// next one starts, so no step mixes old and new modules. For `probationSteps` steps after a swap, a
// step that fails with a kernel error (a trap, or a non-finite logit) rolls the family back at the
// next boundary: that step's requests get an error naming the swap and the rollback, the others go
// on with the previous module.
import type { TokenModel } from '../engine/generate.js';
import type { KernelFamily } from './load.js';
import type { ActiveKernel, KernelRegistry } from './registry.js';

/** What runs the kernels: the wasm backend's pool (host/backends/wasm/pool.ts) has this shape. */
export interface KernelThreads {
  swap(modules: Partial<Record<KernelFamily, WebAssembly.Module>>): void;
}

/** Steps after a swap in which a kernel failure rolls it back. */
export const DEFAULT_PROBATION_STEPS = 32;

/** Serializes steps and exclusive sections (swaps): an exclusive section runs when no step is in flight, and steps wait for it. */
export class StepGate {
  private inFlight = 0;
  private held = false;
  private readonly exclusiveWaiters: Array<() => void> = [];
  private readonly stepWaiters: Array<() => void> = [];

  async enterStep(): Promise<void> {
    while (this.held || this.exclusiveWaiters.length > 0) await new Promise<void>((resolve) => this.stepWaiters.push(resolve));
    this.inFlight++;
  }

  leaveStep(): void {
    this.inFlight--;
    this.grant();
  }

  /** Runs fn at a step boundary: after the step in flight, before the next. Resolves with fn's result. */
  async exclusively<T>(fn: () => T): Promise<{ value: T; waitedMs: number; heldMs: number }> {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      this.exclusiveWaiters.push(resolve);
      this.grant();
    });
    const t1 = performance.now();
    try {
      const value = fn();
      return { value, waitedMs: t1 - t0, heldMs: performance.now() - t1 };
    } finally {
      this.held = false;
      this.grant();
    }
  }

  private grant(): void {
    if (this.held || this.inFlight > 0) return;
    const next = this.exclusiveWaiters.shift();
    if (next) {
      this.held = true;
      next();
      return;
    }
    for (const w of this.stepWaiters.splice(0)) w();
  }
}

/** A step failed because a kernel did (a trap, a dead worker) or produced a non-finite logit. */
export function isKernelFailure(err: unknown): boolean {
  return (err as { code?: string })?.code === 'kernel_error' || /non-finite logit/.test((err as Error)?.message ?? '');
}

export class KernelStepError extends Error {
  readonly code = 'kernel_error';
}

export interface SwapEvents {
  /** A swap or rollback took effect (the status and metrics follow). */
  changed(family: KernelFamily, what: 'swapped' | 'rolled_back', active: ActiveKernel, detail: { switchMs: number; waitedMs: number; reason?: string }): void;
  /** A swap lived through its probation. */
  confirmed?(family: KernelFamily, active: ActiveKernel): void;
}

export class KernelSwapper {
  readonly gate = new StepGate();
  /** Families swapped and still on probation: steps left. */
  private readonly probation = new Map<KernelFamily, number>();

  constructor(
    readonly registry: KernelRegistry,
    private readonly threads: () => KernelThreads[],
    private readonly events: SwapEvents,
    readonly probationSteps = DEFAULT_PROBATION_STEPS,
  ) {}

  /**
   * The model with every step going through the gate and the watch (the object the Scheduler
   * drives). It delegates at each call, so the model's own methods stay the ones that run.
   */
  guard<S>(model: TokenModel<S>): TokenModel<S> {
    return {
      get config() {
        return model.config;
      },
      get contextSize() {
        return model.contextSize;
      },
      get maxBatch() {
        return model.maxBatch;
      },
      get maxSequences() {
        return model.maxSequences;
      },
      newState: (maxSeq?: number) => model.newState(maxSeq),
      forward: (state: S, token: number, pos: number) => this.step(() => model.forward(state, token, pos)),
      ...(model.prefill ? { prefill: (state: S, tokens: readonly number[], pos0: number) => this.step(() => model.prefill!(state, tokens, pos0)) } : {}),
      ...(model.decodeBatch ? { decodeBatch: (states: readonly S[], tokens: readonly number[], positions: readonly number[]) => this.step(() => model.decodeBatch!(states, tokens, positions)) } : {}),
      ...(model.releaseState ? { releaseState: (state: S) => model.releaseState!(state) } : {}),
    };
  }

  private async step<R>(fn: () => R | Promise<R>): Promise<R> {
    await this.gate.enterStep();
    try {
      const r = await fn();
      this.stepDone();
      return r;
    } catch (err) {
      throw this.stepFailed(err);
    } finally {
      this.gate.leaveStep();
    }
  }

  private stepDone(): void {
    for (const [family, left] of this.probation) {
      if (left > 1) this.probation.set(family, left - 1);
      else {
        this.probation.delete(family);
        this.events.confirmed?.(family, this.registry.active(family));
      }
    }
  }

  /** A failed step: within a probation, a kernel failure rolls the swapped families back at the boundary. */
  private stepFailed(err: unknown): unknown {
    if (this.probation.size === 0 || !isKernelFailure(err)) return err;
    const lines: string[] = [];
    for (const [family, left] of [...this.probation]) {
      this.probation.delete(family);
      const bad = this.registry.active(family);
      const prev = this.registry.previous(family);
      const steps = this.probationSteps - left;
      const reason = `${(err as Error).message} (${steps} step${steps === 1 ? '' : 's'} after the swap)`;
      void this.gate.exclusively(() => this.switchBack(family, reason)).catch(() => {});
      lines.push(`kernel family '${family}' failed ${steps} step${steps === 1 ? '' : 's'} after a swap to '${bad.flavour}' (${bad.sha256.slice(0, 12)}): rolled back to '${prev?.flavour}' (${prev?.sha256.slice(0, 12)})`);
    }
    return new KernelStepError(`${(err as Error).message}; ${lines.join('; ')}`);
  }

  /** Puts a checked module in use on every thread at the next step boundary; returns the switch's timing. */
  async swap(k: ActiveKernel): Promise<{ switchMs: number; waitedMs: number }> {
    const r = await this.gate.exclusively(() => {
      for (const t of this.threads()) t.swap({ [k.family]: k.module });
      this.registry.install(k);
      this.probation.set(k.family, this.probationSteps);
    });
    const detail = { switchMs: r.heldMs, waitedMs: r.waitedMs };
    this.events.changed(k.family, 'swapped', this.registry.active(k.family), detail);
    return detail;
  }

  /** Goes back to the family's previous module at the next step boundary. */
  async rollback(family: KernelFamily, reason: string): Promise<{ active: ActiveKernel; switchMs: number; waitedMs: number }> {
    const r = await this.gate.exclusively(() => this.switchBack(family, reason));
    return { active: r.value, switchMs: r.heldMs, waitedMs: r.waitedMs };
  }

  /** Inside an exclusive section: every thread back on the previous module, the registry too. */
  private switchBack(family: KernelFamily, reason: string): ActiveKernel {
    const prev = this.registry.previous(family);
    if (!prev) throw new Error(`kernel family '${family}' has no earlier module to roll back to`);
    const t0 = performance.now();
    for (const t of this.threads()) t.swap({ [family]: prev.module });
    const back = this.registry.rollback(family, reason);
    this.probation.delete(family);
    this.events.changed(family, 'rolled_back', back, { switchMs: performance.now() - t0, waitedMs: 0, reason });
    return back;
  }

  /** Whether a family is within its probation after a swap. */
  onProbation(family: KernelFamily): boolean {
    return this.probation.has(family);
  }
}
