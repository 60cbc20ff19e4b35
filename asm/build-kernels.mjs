// Compiles each kernel family in asm/families.json with asc into
//   kernels/<family>.wasm            shared-memory build: imports env.memory (wasi-threads convention)
//   kernels/<family>.component.wasm  own-memory build wrapped by `jco new --wasi-command`
// and writes kernels/manifest.json: ABI version, exports with signatures, WASI imports, sha256, flags.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ABI_VERSION = 2;
const COMMON_FLAGS = ['-O3', '--noAssert', '--runtime', 'stub', '--use', 'abort=', '--enable', 'simd'];
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

export function buildKernels(root, families) {
  const bin = (n) => join(root, 'node_modules', '.bin', n);
  const outDir = join(root, 'kernels');
  mkdirSync(outDir, { recursive: true });
  const manifest = { abi: ABI_VERSION, generatedBy: 'build.mjs (asm/build-kernels.mjs)', families: {} };
  for (const f of families) {
    const source = join(root, f.source);
    if (!existsSync(source)) {
      // only while a family is being written: the manifest then lacks it and the registry says so
      console.error(`build: kernel family '${f.name}' has no source yet (${f.source}); skipped`);
      continue;
    }
    const shared = join(outDir, `${f.name}.wasm`);
    const sharedFlags = [...COMMON_FLAGS, ...SHARED_FLAGS, '--memoryBase', String(f.memoryBase)];
    execFileSync(bin('asc'), [source, '-o', shared, ...sharedFlags], { stdio: 'inherit' });

    // own-memory twin for the component model (which has no shared memory), wrapped by jco
    const own = join(outDir, `${f.name}.own.wasm`);
    const component = join(outDir, `${f.name}.component.wasm`);
    const ownFlags = [...COMMON_FLAGS, ...OWN_FLAGS, '--memoryBase', String(f.memoryBase)];
    execFileSync(bin('asc'), [source, '-o', own, ...ownFlags], { stdio: 'inherit' });
    execFileSync(bin('jco'), ['new', own, '--wasi-command', '-o', component], { stdio: 'inherit' });
    rmSync(own);

    const bytes = readFileSync(shared);
    const { imports, exports } = wasmSignatures(bytes);
    const componentBytes = readFileSync(component);
    manifest.families[f.name] = {
      file: `${f.name}.wasm`,
      abi: ABI_VERSION,
      sha256: sha256(bytes),
      size: bytes.length,
      memoryBase: f.memoryBase,
      buildFlags: sharedFlags,
      memory: imports.find((i) => i.kind === 'memory'),
      wasiImports: imports.filter((i) => i.kind === 'function').map((i) => `${i.module}.${i.name}`),
      exports: Object.fromEntries(exports.map((e) => [e.name, { params: e.params, results: e.results }])),
      component: { file: `${f.name}.component.wasm`, sha256: sha256(componentBytes), size: componentBytes.length, buildFlags: ownFlags },
    };
  }
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}
