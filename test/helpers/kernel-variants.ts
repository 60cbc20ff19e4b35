// Builds variants of a kernel family from AssemblyScript sources, the way a third party would make a
// replacement module: a copy of asm/ in a temporary directory, a flavour set asm/arch/<name>/<family>.ts
// that re-exports the baseline and overrides some kernels, compiled with the family's own asc flags
// (from kernels/manifest.json). Several variants compile in parallel (one asc process each).
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kernelModule, loadManifest } from '../../host/kernels/load.js';
import { ROOT } from './paths.js';

/**
 * name -> the text of asm/arch/<name>/<family>.ts (it starts with `export * from '../../<family>/simd128';`).
 * `optimize` ('-O2', '-Os', ...) replaces the baseline's optimisation level: the same source then
 * makes a different module with the same exports and the same bits.
 */
export async function buildVariants(tmp: string, family: string, sets: Record<string, string>, o: { optimize?: string } = {}): Promise<Record<string, Uint8Array<ArrayBuffer>>> {
  const base = kernelModule(family, undefined, loadManifest());
  const flags = base.buildFlags.map((f) => (o.optimize !== undefined && /^-O\w*$/.test(f) ? o.optimize : f));
  if (o.optimize !== undefined && !flags.includes(o.optimize)) throw new Error(`buildVariants: the ${family} baseline's flags have no -O level to replace (${base.buildFlags.join(' ')})`);
  const out: Record<string, Uint8Array<ArrayBuffer>> = {};
  await Promise.all(
    Object.entries(sets).map(async ([name, text]) => {
      const root = join(tmp, `variant-${name}`);
      cpSync(join(ROOT, 'asm'), join(root, 'asm'), { recursive: true });
      mkdirSync(join(root, 'asm', 'arch', name), { recursive: true });
      writeFileSync(join(root, 'asm', 'arch', name, `${family}.ts`), text);
      // the family's module compiles this set in place of the baseline's (asm/build-kernels.mjs does the same)
      writeFileSync(join(root, 'asm', family, 'flavour.ts'), `export * from '../arch/${name}/${family}';\n`);
      const wasm = join(root, `${family}.${name}.wasm`);
      await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'asc'), [join(root, 'asm', `${family}.ts`), '-o', wasm, ...flags], { timeout: 300_000 });
      out[name] = new Uint8Array(readFileSync(wasm));
    }),
  );
  return out;
}
