// The kernel pool: the main thread plus (threads - 1) worker_threads, each with its own instance
// of every kernel module over one shared WebAssembly.Memory. `run` dispatches a list of independent
// kernel calls, split by output rows (or heads), and returns when every thread has done its share.
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { compileFamily, instantiateKernel, loadManifest, type KernelFamily } from '../../kernels/load.js';
import { usableCores } from '../../profiles/cores.js';
import { adaptSpin, CTRL, CTRL_INTS, JOB, JOB_STRIDE, JOBS_BASE, KernelTrap, MAX_ARGS, MAX_JOBS, readErrorText, runShare } from './control.js';
import { bindTable, FAMILIES, instantiateFamilies, kernelTable, type KernelEntry, type KernelFn } from './kernel-table.js';

export interface Job {
  kernel: string;
  args: number[];
  /** Split [start, end) of `total` items over the threads into arguments startArg/endArg; none: main thread only. */
  split?: { total: number; grain?: number; startArg: number; endArg: number };
}

export class KernelError extends Error {
  readonly code = 'kernel_error';
}

export interface PoolOptions {
  threads: number;
  /**
   * Most spin iterations (~5 ns each) before sleeping in Atomics.wait, for the workers waiting for
   * a dispatch and for the main thread waiting for the workers; spinning keeps wake-ups fast during
   * a step, sleeping gives the core to a thread that needs it. 0: always sleep. Default
   * DEFAULT_SPIN_LIMIT.
   */
  spinLimit?: number;
  /**
   * Whether each waiter's spin budget adapts below the limit (control.ts, adaptSpin): shrinking
   * after waits that ended asleep, so threads that outnumber the cores give them back. Default:
   * only when `threads` is more than the cores the process may use; with a core per thread a
   * fixed budget spins through every gap of a step (an adaptive one measured 2-2.5x slower there).
   */
  adaptiveSpin?: boolean;
  /** A dispatch that takes longer than this is a hung worker (ms). */
  timeoutMs?: number;
  /**
   * The module of each kernel family every thread instantiates (the registry's choice,
   * host/kernels/choose.ts); default: each family's baseline flavour.
   */
  modules?: Record<KernelFamily, WebAssembly.Module>;
}

/**
 * About a millisecond of spinning (a few ns a load): longer than the gaps between the dispatches of
 * a step, so a thread with a core of its own never sleeps inside a step (docs/MEASUREMENTS.md,
 * "The kernel pool's barrier", has the measurements).
 */
export const DEFAULT_SPIN_LIMIT = 200_000;

export class KernelPool {
  readonly table: KernelEntry[];
  readonly threads: number;
  private readonly index = new Map<string, number>();
  private get fns(): KernelFn[] {
    return this.fnsInUse;
  }
  private readonly floatParams: boolean[][];
  private readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly ctlF: Float32Array;
  private readonly workers: Worker[] = [];
  /** Per worker, the port its swap modules are posted on (it reads them synchronously: worker.ts). */
  private readonly swapPorts: MessagePort[] = [];
  private fnsInUse: KernelFn[];
  private readonly scratch: number[] = [];
  private readonly timeoutMs: number;
  readonly spinLimit: number;
  /** Main-thread barrier waits that ended in Atomics.wait, and those of them a 1 s slice ran out in (a lost wake-up, or a worker off the CPU that long). */
  readonly waits = { sleeps: 0, slicesRunOut: 0 };
  /** The main thread's current spin budget (adaptSpin when adaptive). */
  private budget: number;
  readonly adaptiveSpin: boolean;
  instances: Record<KernelFamily, WebAssembly.Exports>;
  /** Resolves when every worker has its kernel instances (rejects if one could not start). */
  readonly ready: Promise<void>;

  private constructor(readonly memory: WebAssembly.Memory, modules: Record<KernelFamily, WebAssembly.Module>, table: KernelEntry[], opts: PoolOptions) {
    this.table = table;
    this.threads = Math.max(1, opts.threads);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.spinLimit = Math.max(0, opts.spinLimit ?? DEFAULT_SPIN_LIMIT);
    this.budget = this.spinLimit;
    this.adaptiveSpin = opts.adaptiveSpin ?? this.threads > usableCores();
    table.forEach((e, i) => this.index.set(e.name, i));
    this.instances = instantiateFamilies(modules, memory);
    this.fnsInUse = bindTable(table, this.instances);
    this.floatParams = table.map((e) => e.floatParams);
    const sab = new SharedArrayBuffer(CTRL_INTS * 4);
    this.sab = sab;
    this.ctl = new Int32Array(sab);
    this.ctlF = new Float32Array(sab);
    for (let i = 1; i < this.threads; i++) {
      const { port1, port2 } = new MessageChannel();
      port1.unref();
      this.swapPorts.push(port1);
      this.workers.push(
        new Worker(new URL('./worker.js', import.meta.url), {
          workerData: { memory, modules, table, ctl: sab, index: i, nThreads: this.threads, spinLimit: this.spinLimit, adaptiveSpin: this.adaptiveSpin, swapPort: port2 },
          transferList: [port2],
        }),
      );
    }
    for (const [i, w] of this.workers.entries()) {
      // run() is synchronous: the workers need not keep the process alive, and one that dies
      // marks the pool broken so the next step fails at once instead of spinning to a timeout
      w.unref();
      w.on('error', (e) => this.markBroken(`kernel worker ${i + 1} failed: ${e.message}`));
      w.on('exit', (code) => {
        if (!this.closing) this.markBroken(`kernel worker ${i + 1} exited (code ${code})`);
      });
    }
    this.ready = Promise.all(
      this.workers.map(
        (w, i) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', (m) => (m === 'ready' ? resolve() : reject(new KernelError(`kernel worker ${i + 1} could not start`))));
            w.once('error', (e) => reject(new KernelError(`kernel worker ${i + 1} failed: ${e.message}`)));
          }),
      ),
    ).then(() => undefined);
  }

  static create(memory: WebAssembly.Memory, opts: PoolOptions): KernelPool {
    const manifest = loadManifest();
    const table = kernelTable(manifest);
    const modules = opts.modules ?? (Object.fromEntries(FAMILIES.map((f) => [f, compileFamily(f, undefined, manifest)])) as Record<KernelFamily, WebAssembly.Module>);
    return new KernelPool(memory, modules, table, opts);
  }

  /** Calls a kernel on the main thread only (small ops between dispatches). */
  call(kernel: string, ...args: number[]): number {
    return this.fns[this.fnIndex(kernel)](...args) as number;
  }

  /** Whether the loaded modules export a kernel of this name. */
  has(kernel: string): boolean {
    return this.index.has(kernel);
  }

  fnIndex(kernel: string): number {
    const i = this.index.get(kernel);
    if (i === undefined) throw new KernelError(`no kernel named '${kernel}' in the loaded modules`);
    return i;
  }

  private broken?: string;
  private closing = false;

  private markBroken(why: string): void {
    this.broken ??= why;
  }

  /** Runs independent jobs on all threads; one barrier at the end (one per MAX_JOBS jobs). */
  run(jobs: Job[]): void {
    if (this.broken) throw new KernelError(`the kernel pool is out of service: ${this.broken}`);
    if (jobs.length > MAX_JOBS) {
      for (let i = 0; i < jobs.length; i += MAX_JOBS) this.run(jobs.slice(i, i + MAX_JOBS));
      return;
    }
    const { ctl, ctlF } = this;
    for (let j = 0; j < jobs.length; j++) {
      const job = jobs[j];
      const base = JOBS_BASE + j * JOB_STRIDE;
      const fn = this.fnIndex(job.kernel);
      if (job.args.length > MAX_ARGS) throw new RangeError(`kernel ${job.kernel}: at most ${MAX_ARGS} arguments`);
      ctl[base + JOB.FN] = fn;
      ctl[base + JOB.NARGS] = job.args.length;
      ctl[base + JOB.SPLIT_TOTAL] = job.split?.total ?? 0;
      ctl[base + JOB.SPLIT_GRAIN] = job.split?.grain ?? 1;
      ctl[base + JOB.SPLIT_START_ARG] = job.split?.startArg ?? 0;
      ctl[base + JOB.SPLIT_END_ARG] = job.split?.endArg ?? 0;
      const floats = this.floatParams[fn];
      for (let a = 0; a < job.args.length; a++) {
        if (floats[a]) ctlF[base + JOB.ARGS + a] = job.args[a];
        else ctl[base + JOB.ARGS + a] = job.args[a];
      }
    }
    ctl[CTRL.NJOBS] = jobs.length;
    const nWorkers = this.workers.length;
    Atomics.store(ctl, CTRL.DONE, 0);
    if (nWorkers > 0) {
      Atomics.add(ctl, CTRL.GEN, 1);
      if (Atomics.load(ctl, CTRL.SLEEPERS) > 0) Atomics.notify(ctl, CTRL.GEN);
    }
    let ownError: unknown;
    try {
      runShare(ctl, ctlF, this.fns, this.floatParams, 0, this.threads, this.scratch);
    } catch (err) {
      ownError = err;
    }
    try {
      this.waitForWorkers(nWorkers);
    } catch (err) {
      // workers may still be reading this dispatch: the control block cannot be reused
      this.markBroken((err as Error).message);
      throw err;
    }
    const workerError = Atomics.exchange(ctl, CTRL.ERROR, 0);
    if (ownError !== undefined) throw this.describe(ownError, 0);
    if (workerError > 0) throw this.describe(new KernelTrap(workerError - 1, readErrorText(this.sab, ctl)), ctl[CTRL.ERROR_WORKER]);
    if (workerError < 0) throw new KernelError(`a kernel worker failed on thread ${ctl[CTRL.ERROR_WORKER]} outside any kernel: ${readErrorText(this.sab, ctl)}`);
  }

  /**
   * Replaces some families' modules on every thread in one dispatch: the main thread's instances
   * first (an instantiation error leaves everything as it was), then every worker's. Call it only
   * between steps (no kernel runs during a swap: host/kernels/hot-swap.ts waits for the boundary).
   * A worker that cannot instantiate puts the pool out of service (it should not happen: the
   * verifier instantiated the module already) rather than leave threads on different modules.
   */
  swap(modules: Partial<Record<KernelFamily, WebAssembly.Module>>): void {
    if (this.broken) throw new KernelError(`the kernel pool is out of service: ${this.broken}`);
    const next = { ...this.instances };
    for (const [f, m] of Object.entries(modules) as Array<[KernelFamily, WebAssembly.Module]>) next[f] = instantiateKernel(m, this.memory);
    const fns = bindTable(this.table, next);
    const ctl = this.ctl;
    const nWorkers = this.workers.length;
    if (nWorkers > 0) {
      for (const port of this.swapPorts) port.postMessage(modules);
      ctl[CTRL.NJOBS] = 0;
      Atomics.store(ctl, CTRL.SWAP, 1);
      Atomics.store(ctl, CTRL.DONE, 0);
      Atomics.add(ctl, CTRL.GEN, 1);
      if (Atomics.load(ctl, CTRL.SLEEPERS) > 0) Atomics.notify(ctl, CTRL.GEN);
      try {
        this.waitForWorkers(nWorkers);
      } catch (err) {
        this.markBroken((err as Error).message);
        throw err;
      } finally {
        Atomics.store(ctl, CTRL.SWAP, 0);
      }
      if (Atomics.exchange(ctl, CTRL.ERROR, 0) !== 0) {
        const why = `kernel worker ${ctl[CTRL.ERROR_WORKER]} could not take the swapped modules: ${readErrorText(this.sab, ctl)}`;
        this.markBroken(why);
        throw new KernelError(why);
      }
    }
    this.instances = next;
    this.fnsInUse = fns;
  }

  /** Spins on DONE for spinLimit loads, then sleeps until the last worker notifies (control.ts). */
  private waitForWorkers(nWorkers: number): void {
    if (nWorkers === 0) return;
    const ctl = this.ctl;
    const limit = this.spinLimit;
    let spins = 0;
    let t0 = 0;
    while (Atomics.load(ctl, CTRL.DONE) < nWorkers) {
      if (Atomics.load(ctl, CTRL.DEAD) > 0) throw this.deadWorker();
      if (++spins > this.budget) {
        if (this.adaptiveSpin) this.budget = adaptSpin(this.budget, limit, true);
        return this.sleepForWorkers(nWorkers);
      }
      if ((spins & 0xfffff) === 0) {
        if (t0 === 0) t0 = performance.now();
        else if (performance.now() - t0 > this.timeoutMs) throw this.timedOut();
      }
    }
    if (this.adaptiveSpin) this.budget = adaptSpin(this.budget, limit, false);
  }

  private sleepForWorkers(nWorkers: number): void {
    const ctl = this.ctl;
    const t0 = performance.now();
    this.waits.sleeps++;
    Atomics.store(ctl, CTRL.MAIN_WAITING, 1);
    try {
      for (;;) {
        const done = Atomics.load(ctl, CTRL.DONE);
        if (done >= nWorkers) return;
        if (Atomics.load(ctl, CTRL.DEAD) > 0) throw this.deadWorker();
        const left = this.timeoutMs - (performance.now() - t0);
        if (left <= 0) throw this.timedOut();
        // the last worker notifies; the time limit only bounds a wait nobody will end
        if (Atomics.wait(ctl, CTRL.DONE, done, Math.min(left, 1000)) === 'timed-out') this.waits.slicesRunOut++;
      }
    } finally {
      Atomics.store(ctl, CTRL.MAIN_WAITING, 0);
    }
  }

  private deadWorker(): KernelError {
    return new KernelError('a kernel worker could not start (its error is in the log); the wasm backend cannot run');
  }

  private timedOut(): KernelError {
    return new KernelError(`kernel workers did not finish a step within ${this.timeoutMs} ms`);
  }

  private describe(err: unknown, thread: number): KernelError {
    if (err instanceof KernelTrap) {
      const e = this.table[err.fn];
      return new KernelError(`kernel ${e.family}.${e.name} failed on thread ${thread}: ${err.message}`);
    }
    return new KernelError(`kernel failed on thread ${thread}: ${err instanceof Error ? err.message : String(err)}`);
  }

  async close(): Promise<void> {
    if (this.workers.length === 0) return;
    this.closing = true;
    Atomics.store(this.ctl, CTRL.QUIT, 1);
    Atomics.add(this.ctl, CTRL.GEN, 1);
    Atomics.notify(this.ctl, CTRL.GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
    for (const p of this.swapPorts) p.close();
  }
}
