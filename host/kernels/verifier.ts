// The verifier: a worker thread that runs the swap checks (./verify.ts) off the serving path, so a
// stream does not stall while a candidate is compiled, canaried and timed. One persistent thread per
// service (the canary's golden inputs are made once in it), candidates verified one at a time.
import { Worker } from 'node:worker_threads';
import type { TrustedKey } from './keys.js';
import type { Candidate, FamilyRules, Verdict, VerifyPolicy } from './verify.js';

export interface VerifyJob {
  id: number;
  candidate: Candidate;
  rules: FamilyRules;
  policy: VerifyPolicy;
  keys: Array<{ id: string; path: string; pem: string }>;
  trusted: WebAssembly.Module;
  active: WebAssembly.Module;
  path: 'x16' | 'x8';
}

export class KernelVerifier {
  private worker?: Worker;
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: Verdict): void; reject(e: Error): void }>();
  private chain: Promise<unknown> = Promise.resolve();

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL('./verify-worker.js', import.meta.url));
    w.unref();
    w.on('message', (m: { id: number; verdict?: Verdict; error?: string }) => {
      const p = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.verdict) p?.resolve(m.verdict);
      else p?.reject(new Error(`the kernel verifier failed: ${m.error}`));
    });
    const fail = (why: string) => {
      for (const p of this.waiting.values()) p.reject(new Error(why));
      this.waiting.clear();
      this.worker = undefined;
    };
    w.on('error', (e) => fail(`the kernel verifier thread failed: ${e.message}`));
    w.on('exit', (code) => fail(`the kernel verifier thread exited (code ${code})`));
    this.worker = w;
    return w;
  }

  /** Runs the checks on the verifier thread (one candidate at a time). */
  verify(job: Omit<VerifyJob, 'id' | 'keys'> & { keys: readonly TrustedKey[] }): Promise<Verdict> {
    const run = () =>
      new Promise<Verdict>((resolve, reject) => {
        const id = this.next++;
        this.waiting.set(id, { resolve, reject });
        const keys = job.keys.map((k) => ({ id: k.id, path: k.path, pem: k.key.export({ format: 'pem', type: 'spki' }).toString() }));
        this.start().postMessage({ ...job, id, keys } satisfies VerifyJob);
      });
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => {});
    return p;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
