// Watch mode (`wisp serve --watch-kernels DIR`): a kernel module dropped into DIR as
// <family>.<name>.wasm (with its signature <file>.sig beside it, written first or within a second) is
// checked and swapped in like a `wisp kernels swap` (./manager.ts). What is in DIR at start is
// applied too, in name order; a file whose bytes are already in use is left alone. Every outcome is
// logged (a refusal names the check and the reason).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { parseSignature } from './keys.js';
import { KERNEL_FAMILIES } from './load.js';
import type { KernelManager, ManagerLog } from './manager.js';

const MODULE_FILE = /^([a-z0-9]+)\.([A-Za-z0-9._-]+)\.wasm$/;
/** Wait this long after the last change to a file before reading it (a copy in progress, its .sig to come). */
const SETTLE_MS = 400;

export function watchKernelsDir(dir: string, manager: KernelManager, log: ManagerLog): { close(): void } {
  const timers = new Map<string, NodeJS.Timeout>();
  let queue: Promise<void> = Promise.resolve();
  const apply = (file: string) => {
    queue = queue.then(() => swapFile(dir, file, manager, log)).catch((err: Error) => log.error({ dir, file, err: err.message }, `kernel watch: ${file}: ${err.message}`));
  };
  const changed = (name: string | null) => {
    if (!name) return;
    const file = name.endsWith('.sig') ? name.slice(0, -4) : name;
    if (!MODULE_FILE.test(file)) return;
    clearTimeout(timers.get(file));
    timers.set(file, setTimeout(() => {
      timers.delete(file);
      if (existsSync(join(dir, file))) apply(file);
    }, SETTLE_MS).unref());
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, (_event, name) => changed(name));
  } catch (err) {
    throw new Error(`--watch-kernels ${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (err as Error).message}`);
  }
  log.info({ dir }, `kernel watch: swapping in modules dropped into ${dir} (<family>.<name>.wasm + .sig)`);
  for (const name of readdirSync(dir).sort()) if (MODULE_FILE.test(name)) apply(name);
  return {
    close() {
      watcher.close();
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}

async function swapFile(dir: string, file: string, manager: KernelManager, log: ManagerLog): Promise<void> {
  const [, family, name] = MODULE_FILE.exec(file)!;
  if (!(KERNEL_FAMILIES as readonly string[]).includes(family)) {
    log.warn({ dir, file }, `kernel watch: ${file}: no kernel family '${family}' (name files <family>.<name>.wasm: ${KERNEL_FAMILIES.join(', ')})`);
    return;
  }
  const bytes = readFileSync(join(dir, file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (manager.registry.active(family as (typeof KERNEL_FAMILIES)[number]).sha256 === sha256) return;
  const sigPath = join(dir, `${file}.sig`);
  const signature = existsSync(sigPath) ? parseSignature(readFileSync(sigPath, 'utf8'), sigPath) : undefined;
  const r = await manager.swap({ family, module: bytes, sha256, name, ...(signature ? { signature } : {}) }, `watch ${dir}`);
  if (r.ok) log.info({ dir, file, family, sha256, switch_ms: r.switch_ms }, `kernel watch: ${file} swapped in`);
  else log.warn({ dir, file, family, check: r.check }, `kernel watch: ${file} refused: ${r.reason}`);
}
