// Compiles one asm/ file alone (not a kernel family: a probe of a lib/ helper) with the kernel build's
// optimisation flags, into a temporary directory, and instantiates it with its own memory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths.js';

/** The exports of asm/<path> compiled alone: its functions, its exported constants (as globals) and its memory. */
export function compileAsmProbe(path: string): WebAssembly.Exports & { memory: WebAssembly.Memory } {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-asm-probe-'));
  try {
    const wasm = join(dir, 'probe.wasm');
    execFileSync(join(ROOT, 'node_modules', '.bin', 'asc'), [
      join(ROOT, 'asm', path), '-o', wasm, '-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=', '--enable', 'simd',
    ], { stdio: 'inherit' });
    return new WebAssembly.Instance(new WebAssembly.Module(readFileSync(wasm))).exports as WebAssembly.Exports & { memory: WebAssembly.Memory };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
