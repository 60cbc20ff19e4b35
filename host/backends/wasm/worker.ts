// A kernel worker: one instance of each kernel module over the shared memory, then a loop that
// spins (briefly) or sleeps until the main thread starts a dispatch, runs its share, reports done.
import { workerData } from 'node:worker_threads';
import { instantiateKernel, type KernelFamily } from '../../kernels/load.js';
import { CTRL, KernelTrap, runShare } from './control.js';
import { bindTable, type KernelEntry } from './kernel-table.js';

interface WorkerInit {
  memory: WebAssembly.Memory;
  modules: Record<KernelFamily, WebAssembly.Module>;
  table: KernelEntry[];
  ctl: SharedArrayBuffer;
  index: number;
  nThreads: number;
  spinLimit: number;
}

const init = workerData as WorkerInit;
const ctl = new Int32Array(init.ctl);
const ctlF = new Float32Array(init.ctl);
const instances = {
  matmul: instantiateKernel(init.modules.matmul, init.memory),
  attn: instantiateKernel(init.modules.attn, init.memory),
  ops: instantiateKernel(init.modules.ops, init.memory),
};
const fns = bindTable(init.table, instances);
const floatParams = init.table.map((e) => e.floatParams);
const scratch: number[] = [];

let seen = Atomics.load(ctl, CTRL.GEN);
for (;;) {
  let gen: number;
  let spins = 0;
  while ((gen = Atomics.load(ctl, CTRL.GEN)) === seen) {
    if (++spins > init.spinLimit) {
      Atomics.add(ctl, CTRL.SLEEPERS, 1);
      Atomics.wait(ctl, CTRL.GEN, seen);
      Atomics.sub(ctl, CTRL.SLEEPERS, 1);
      spins = 0;
    }
  }
  seen = gen;
  if (Atomics.load(ctl, CTRL.QUIT)) break;
  try {
    runShare(ctl, ctlF, fns, floatParams, init.index, init.nThreads, scratch);
  } catch (err) {
    // a trap: report which kernel; the main thread turns it into an error for the request
    if (Atomics.compareExchange(ctl, CTRL.ERROR, 0, 1 + (err instanceof KernelTrap ? err.fn : 0)) === 0) {
      Atomics.store(ctl, CTRL.ERROR_WORKER, init.index);
    }
  }
  Atomics.add(ctl, CTRL.DONE, 1);
}
