// A kernel worker: one instance of each kernel module over the shared memory, then a loop that
// spins (briefly) or sleeps until the main thread starts a dispatch, runs its share, reports done.
import { parentPort, workerData } from 'node:worker_threads';
import type { KernelFamily } from '../../kernels/load.js';
import { CTRL, KernelTrap, runShare, writeErrorText } from './control.js';
import { bindTable, instantiateFamilies, type KernelEntry } from './kernel-table.js';

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

function start(): { fns: ReturnType<typeof bindTable>; floatParams: boolean[][] } | undefined {
  try {
    const instances = instantiateFamilies(init.modules, init.memory);
    return { fns: bindTable(init.table, instances), floatParams: init.table.map((e) => e.floatParams) };
  } catch (err) {
    console.error(`wisp: kernel worker ${init.index} could not start: ${err instanceof Error ? err.message : String(err)}`);
    Atomics.add(ctl, CTRL.DEAD, 1);
    return undefined;
  }
}

const kernels = start();
parentPort?.postMessage(kernels ? 'ready' : 'failed');
const scratch: number[] = [];
// Generation 0 is "nothing dispatched yet": a dispatch made while this worker was starting is
// still seen as new.
let seen = 0;
while (kernels) {
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
    runShare(ctl, ctlF, kernels.fns, kernels.floatParams, init.index, init.nThreads, scratch);
  } catch (err) {
    // a trap: report which kernel; the main thread turns it into an error for the request
    if (Atomics.compareExchange(ctl, CTRL.ERROR, 0, err instanceof KernelTrap ? 1 + err.fn : -1) === 0) {
      writeErrorText(init.ctl, ctl, err instanceof Error ? err.message : String(err));
      Atomics.store(ctl, CTRL.ERROR_WORKER, init.index);
    }
  }
  Atomics.add(ctl, CTRL.DONE, 1);
}
