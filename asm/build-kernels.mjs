// Compiles every kernel family of asm/families.json, in every flavour it lists, with asc into
//   kernels/<family>.<flavour>.wasm            shared-memory build: imports env.memory (wasi-threads convention)
//   kernels/<family>.<flavour>.component.wasm  own-memory build wrapped by `jco new --wasi-command`
// and writes kernels/manifest.json: per module its family, flavour, ABI version, exports with
// signatures, WASI imports, sha256 and asc flags.
//
// A family's module is asm/<family>.ts: the kernel set asm/<family>/flavour.ts re-exports, and the
// self-test `_start`, which imports its kernels from that same file. The baseline flavour (simd128)
// is that file as it is (`export * from './simd128'`); for another flavour F the build reads
// `export * from '../arch/F/<family>'` in its place, so the module's exports and its self-test are F's
// (asm/arch/F/<family>.ts re-exports the baseline set and overrides the kernels F makes faster).
// A flavour must export exactly the baseline's functions with the same signatures and the same
// imports: the build fails otherwise, naming each difference (docs/KERNEL-ABI.md, "Flavours").
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tools = join(here, '..', 'node_modules');

const COMMON_FLAGS = ['-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort='];
const SHARED_FLAGS = ['--enable', 'threads', '--importMemory', '--sharedMemory', '--initialMemory', '17', '--maximumMemory', '65536'];
const OWN_FLAGS = ['--initialMemory', '17'];

const VALTYPES = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128' };

/** Reads the type, import, function and export sections of a wasm module: export name -> signature. */
export function wasmSignatures(bytes) {
  let p = 8;
  const u32 = () => {
    let result = 0, shift = 0, b;
    do {
      b = bytes[p++];
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    return result >>> 0;
  };
  const name = () => {
    const n = u32();
    const s = new TextDecoder().decode(bytes.subarray(p, p + n));
    p += n;
    return s;
  };
  const types = [], funcTypes = [], imports = [], exports = [];
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = u32();
    const end = p + size;
    if (id === 1) {
      for (let i = 0, n = u32(); i < n; i++) {
        p++; // 0x60
        const params = Array.from({ length: u32() }, () => VALTYPES[bytes[p++]]);
        const results = Array.from({ length: u32() }, () => VALTYPES[bytes[p++]]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let i = 0, n = u32(); i < n; i++) {
        const module = name(), field = name(), kind = bytes[p++];
        if (kind === 0) {
          const t = u32();
          funcTypes.push(t);
          imports.push({ module, name: field, kind: 'function', ...types[t] });
        } else if (kind === 2) {
          const flags = bytes[p++];
          const initial = u32();
          const maximum = flags & 1 ? u32() : undefined;
          imports.push({ module, name: field, kind: 'memory', initial, maximum, shared: !!(flags & 2) });
        } else {
          throw new Error(`unexpected import kind ${kind} for ${module}.${field}`);
        }
      }
    } else if (id === 3) {
      for (let i = 0, n = u32(); i < n; i++) funcTypes.push(u32());
    } else if (id === 7) {
      for (let i = 0, n = u32(); i < n; i++) {
        const field = name(), kind = bytes[p++], index = u32();
        if (kind === 0) exports.push({ name: field, ...types[funcTypes[index]] });
      }
    }
    p = end;
  }
  return { imports, exports };
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

const signature = (s) => `(${s.params.join(', ')}) -> ${s.results.length ? s.results.join(', ') : 'void'}`;

/**
 * Every way a flavour's exports and imports differ from the baseline's, one line each (none: the same
 * ABI). `base` and `flavour` are wasmSignatures() results.
 */
export function abiDifferences(base, flavour) {
  const diffs = [];
  const baseExports = new Map(base.exports.map((e) => [e.name, e]));
  const flavourExports = new Map(flavour.exports.map((e) => [e.name, e]));
  for (const [name, e] of baseExports) {
    const f = flavourExports.get(name);
    if (!f) diffs.push(`missing export ${name} ${signature(e)}`);
    else if (signature(f) !== signature(e)) diffs.push(`${name} is ${signature(f)}, the baseline's ${signature(e)}`);
  }
  for (const [name, f] of flavourExports) if (!baseExports.has(name)) diffs.push(`export ${name} ${signature(f)} is not in the baseline`);
  const importKey = (i) => (i.kind === 'memory' ? `${i.module}.${i.name} (memory, shared ${i.shared})` : `${i.module}.${i.name} ${signature(i)}`);
  const baseImports = new Set(base.imports.map(importKey));
  const flavourImports = new Set(flavour.imports.map(importKey));
  for (const i of flavourImports) if (!baseImports.has(i)) diffs.push(`imports ${i}, which the baseline does not`);
  for (const i of baseImports) if (!flavourImports.has(i)) diffs.push(`does not import ${i}, which the baseline does`);
  return diffs;
}

/** The kernel set a flavour compiles, relative to the root: the baseline's own, or asm/arch/<flavour>/<family>.ts. */
export function flavourSource(config, family, flavour) {
  return flavour === config.baseline ? `asm/${family}/${flavour}.ts` : `asm/arch/${flavour}/${family}.ts`;
}

/**
 * Compiles one module: asm/<family>.ts with asm/<family>/flavour.ts read as `export * from '<set>'`.
 * Throws when asc reports errors (asc prints them).
 */
async function compile(root, family, flavour, config, outFile, flags) {
  const { main } = await import(join(tools, 'assemblyscript', 'dist', 'asc.js'));
  const seam = resolve(root, 'asm', family, 'flavour.ts');
  const set = resolve(root, flavourSource(config, family, flavour));
  if (!existsSync(set)) throw new Error(`kernel flavour '${flavour}' of family '${family}' has no kernel set at ${relative(root, set)}`);
  let spec = relative(dirname(seam), set).replace(/\\/g, '/').replace(/\.ts$/, '');
  if (!spec.startsWith('.')) spec = `./${spec}`;
  const readFile = (filename, baseDir) => {
    const path = resolve(baseDir, filename);
    if (path === seam && flavour !== config.baseline) return `export * from '${spec}';\n`;
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  };
  const { error } = await main([join(root, 'asm', `${family}.ts`), '-o', outFile, ...flags], { readFile, stdout: process.stdout, stderr: process.stderr });
  if (error) throw new Error(`asc could not compile kernel family '${family}', flavour '${flavour}' (${relative(root, set)}): ${error.message}`);
}

/**
 * Builds every family × flavour of `config` (asm/families.json) under `root` into root/kernels.
 * Every flavour's module is checked against its baseline's before any component is built.
 * `components: false` skips the jco component builds (the ABI check tests do not need them).
 */
export async function buildKernels(root, config, { components = true } = {}) {
  const outDir = join(root, 'kernels');
  mkdirSync(outDir, { recursive: true });
  const manifest = { abi: config.abi, generatedBy: 'build.mjs (asm/build-kernels.mjs)', baseline: config.baseline, families: {} };
  for (const f of config.families) {
    if (!existsSync(join(root, 'asm', `${f.name}.ts`))) {
      // only while a family is being written: the manifest then lacks it and the host says so
      console.error(`build: kernel family '${f.name}' has no source yet (asm/${f.name}.ts); skipped`);
      continue;
    }
    const flavours = [config.baseline, ...(f.flavours ?? []).filter((x) => x !== config.baseline)];
    const modules = {};
    let base;
    for (const flavour of flavours) {
      const feature = config.flavours[flavour];
      if (!feature) throw new Error(`kernel family '${f.name}' lists flavour '${flavour}', which asm/families.json does not define (flavours: ${Object.keys(config.flavours).join(', ')})`);
      const enable = feature.enable.flatMap((x) => ['--enable', x]);
      const file = `${f.name}.${flavour}.wasm`;
      const sharedFlags = [...COMMON_FLAGS, ...enable, ...SHARED_FLAGS, '--memoryBase', String(f.memoryBase)];
      await compile(root, f.name, flavour, config, join(outDir, file), sharedFlags);
      const bytes = readFileSync(join(outDir, file));
      const sigs = wasmSignatures(bytes);
      if (flavour === config.baseline) base = sigs;
      else {
        const diffs = abiDifferences(base, sigs);
        if (diffs.length > 0) {
          rmSync(join(outDir, file));
          throw new Error(
            `kernel flavour '${flavour}' of family '${f.name}' (${flavourSource(config, f.name, flavour)}) must export exactly the ` +
              `${config.baseline} baseline's functions with the same signatures and imports; it differs: ${diffs.join('; ')}. ` +
              'An ISA flavour keeps every export name and signature; a new contract is a new export in the baseline (docs/KERNEL-ABI.md).',
          );
        }
      }
      modules[flavour] = {
        family: f.name,
        flavour,
        file,
        abi: config.abi,
        sha256: sha256(bytes),
        size: bytes.length,
        source: flavourSource(config, f.name, flavour),
        memoryBase: f.memoryBase,
        buildFlags: sharedFlags,
        memory: sigs.imports.find((i) => i.kind === 'memory'),
        wasiImports: sigs.imports.filter((i) => i.kind === 'function').map((i) => `${i.module}.${i.name}`),
        exports: Object.fromEntries(sigs.exports.map((e) => [e.name, { params: e.params, results: e.results }])),
      };
    }
    if (components) {
      for (const flavour of flavours) {
        // own-memory twin for the component model (which has no shared memory), wrapped by jco
        const enable = config.flavours[flavour].enable.flatMap((x) => ['--enable', x]);
        const own = join(outDir, `${f.name}.${flavour}.own.wasm`);
        const file = `${f.name}.${flavour}.component.wasm`;
        const ownFlags = [...COMMON_FLAGS, ...enable, ...OWN_FLAGS, '--memoryBase', String(f.memoryBase)];
        await compile(root, f.name, flavour, config, own, ownFlags);
        execFileSync(join(tools, '.bin', 'jco'), ['new', own, '--wasi-command', '-o', join(outDir, file)], { stdio: 'inherit' });
        rmSync(own);
        const bytes = readFileSync(join(outDir, file));
        modules[flavour].component = { file, sha256: sha256(bytes), size: bytes.length, buildFlags: ownFlags };
      }
    }
    manifest.families[f.name] = { baseline: config.baseline, flavours: modules };
  }
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // modules of an earlier layout or of a flavour no longer listed would only mislead
  const built = new Set(Object.values(manifest.families).flatMap((fam) => Object.values(fam.flavours).flatMap((m) => [m.file, m.component?.file])));
  for (const name of readdirSync(outDir)) if (name.endsWith('.wasm') && !built.has(name)) rmSync(join(outDir, name));
  return manifest;
}
