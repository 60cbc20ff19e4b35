// A kernel worker: one instance of each kernel module over the shared memory, then a loop that
// spins (briefly) or sleeps until the main thread starts a dispatch, runs its share, reports done
// (and wakes the main thread if it is asleep and this was the last share: control.ts). A dispatch
// flagged SWAP instead replaces some families' instances with the modules waiting on its swap port
// (a hot kernel swap: every thread at one dispatch, between two steps).
import { type MessagePort, parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { adaptSpin, CTRL, KernelTrap, runShare, writeErrorText } from './control.js';
import { bindTable, instantiateFamilies, type KernelEntry } from './kernel-table.js';
import { instantiateKernel, type KernelFamily } from '../../kernels/load.js';

interface WorkerInit {
  memory: WebAssembly.Memory;
  modules: Record<KernelFamily, WebAssembly.Module>;
  table: KernelEntry[];
  ctl: SharedArrayBuffer;
  index: number;
  nThreads: number;
  spinLimit: number;
  adaptiveSpin: boolean;
  /** Where the main thread posts the modules of a swap before it dispatches it. */
  swapPort: MessagePort;
}

const init = workerData as WorkerInit;
const ctl = new Int32Array(init.ctl);
const ctlF = new Float32Array(init.ctl);

function start(): { fns: ReturnType<typeof bindTable>; floatParams: boolean[][]; instances: Record<KernelFamily, WebAssembly.Exports> } | undefined {
  try {
    const instances = instantiateFamilies(init.modules, init.memory);
    return { fns: bindTable(init.table, instances), floatParams: init.table.map((e) => e.floatParams), instances };
  } catch (err) {
    console.error(`wisp: kernel worker ${init.index} could not start: ${err instanceof Error ? err.message : String(err)}`);
    Atomics.add(ctl, CTRL.DEAD, 1);
    Atomics.notify(ctl, CTRL.DONE); // a main thread asleep on DONE sees DEAD at once
    return undefined;
  }
}

const kernels = start();
parentPort?.postMessage(kernels ? 'ready' : 'failed');
const scratch: number[] = [];
// Generation 0 is "nothing dispatched yet": a dispatch made while this worker was starting is
// still seen as new.
let seen = 0;
// with more threads than cores the spin budget adapts (control.ts, adaptSpin): halved after each
// sleep, grown by 1/64 of the limit after each dispatch that came while spinning
let budget = init.spinLimit;
while (kernels) {
  let gen: number;
  let spins = 0;
  let slept = false;
  while ((gen = Atomics.load(ctl, CTRL.GEN)) === seen) {
    if (++spins > budget) {
      Atomics.add(ctl, CTRL.SLEEPERS, 1);
      Atomics.wait(ctl, CTRL.GEN, seen);
      Atomics.sub(ctl, CTRL.SLEEPERS, 1);
      slept = true;
      spins = 0;
    }
  }
  if (init.adaptiveSpin) budget = adaptSpin(budget, init.spinLimit, slept);
  seen = gen;
  if (Atomics.load(ctl, CTRL.QUIT)) break;
  try {
    if (Atomics.load(ctl, CTRL.SWAP)) swapModules(kernels);
    else runShare(ctl, ctlF, kernels.fns, kernels.floatParams, init.index, init.nThreads, scratch);
  } catch (err) {
    // a trap: report which kernel; the main thread turns it into an error for the request
    if (Atomics.compareExchange(ctl, CTRL.ERROR, 0, err instanceof KernelTrap ? 1 + err.fn : -1) === 0) {
      writeErrorText(init.ctl, ctl, err instanceof Error ? err.message : String(err));
      Atomics.store(ctl, CTRL.ERROR_WORKER, init.index);
    }
  }
  if (Atomics.add(ctl, CTRL.DONE, 1) + 1 === init.nThreads - 1 && Atomics.load(ctl, CTRL.MAIN_WAITING)) Atomics.notify(ctl, CTRL.DONE);
}

/** New instances of the families the main thread posted, then the kernel table rebound to them (all or nothing). */
function swapModules(k: NonNullable<typeof kernels>): void {
  let msg = receiveMessageOnPort(init.swapPort);
  // postMessage queues synchronously, but be patient with a slow queue rather than miss a swap
  for (let i = 0; !msg && i < 1000; i++) {
    Atomics.wait(ctl, CTRL.QUIT, 0, 1);
    msg = receiveMessageOnPort(init.swapPort);
  }
  if (!msg) throw new Error('no modules arrived for the swap');
  const modules = msg.message as Partial<Record<KernelFamily, WebAssembly.Module>>;
  const next = { ...k.instances };
  for (const [f, m] of Object.entries(modules) as Array<[KernelFamily, WebAssembly.Module]>) next[f] = instantiateKernel(m, init.memory);
  k.fns = bindTable(init.table, next);
  k.instances = next;
}
