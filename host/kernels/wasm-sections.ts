// Reads what the swap checks need from a wasm binary, bounded for hostile input: imports (with
// function signatures and memory limits), function exports with their signatures, whether a start
// function or an own memory is declared, and the data segments' placement. WebAssembly.Module's
// imports()/exports() give names and kinds only (signatures need the type-reflection proposal, behind
// a flag in every Node), and binaryen (what asc uses) is a 10 MB dev dependency: the few sections
// needed are read here. asm/build-kernels.mjs has the build's own reader (trusted input, before tsc).

const VALTYPES: Record<number, string> = { 127: 'i32', 126: 'i64', 125: 'f32', 124: 'f64', 123: 'v128', 112: 'funcref', 111: 'externref' }; // 0x7f, 0x7e, …

export interface Signature {
  params: string[];
  results: string[];
}

export type WasmImport =
  | ({ module: string; name: string; kind: 'function' } & Signature)
  | { module: string; name: string; kind: 'memory'; initial: number; maximum?: number; shared: boolean }
  | { module: string; name: string; kind: 'table' | 'global' };

export interface DataSegment {
  /** active segments: the constant offset (undefined when it is not an i32.const) */
  offset?: number;
  bytes: number;
  passive: boolean;
}

export interface WasmSections {
  imports: WasmImport[];
  /** Function exports with their signatures. */
  exports: Array<{ name: string } & Signature>;
  /** Names of exports that are not functions (memory, table, global). */
  otherExports: string[];
  hasStart: boolean;
  /** Memories the module defines itself (not imported). */
  ownMemories: number;
  data: DataSegment[];
}

export class WasmFormatError extends Error {}

export function signatureText(s: Signature): string {
  return `(${s.params.join(', ')}) -> ${s.results.length ? s.results.join(', ') : 'void'}`;
}

export function readSections(bytes: Uint8Array): WasmSections {
  let p = 0;
  const fail = (what: string): never => {
    throw new WasmFormatError(`not a valid wasm module: ${what} at byte ${p}`);
  };
  const byte = () => (p < bytes.length ? bytes[p++] : fail('unexpected end'));
  const u32 = () => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = byte();
      result |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return result >>> 0;
    }
    return fail('LEB128 too long');
  };
  const s32 = () => {
    let result = 0, shift = 0, b: number;
    do {
      b = byte();
      result |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 35);
    if (shift < 32 && b & 0x40) result |= -1 << shift;
    return result | 0;
  };
  const count = (max: number) => {
    const n = u32();
    if (n > max) fail(`a count of ${n}`);
    return n;
  };
  const name = () => {
    const n = u32();
    if (p + n > bytes.length) fail('a name past the end');
    const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(p, p + n));
    p += n;
    return s;
  };
  const valtype = () => VALTYPES[byte()] ?? fail('an unknown value type');
  const limits = () => {
    const flags = byte();
    const initial = u32();
    const maximum = flags & 1 ? u32() : undefined;
    return { initial, maximum, shared: (flags & 2) !== 0 };
  };
  /** A constant expression: i32.const N end gives N; anything else is skipped to its end (undefined). */
  const constExpr = (): number | undefined => {
    const op = byte();
    if (op === 0x41) {
      const v = s32();
      if (byte() === 0x0b) return v >>> 0;
      return undefined;
    }
    while (byte() !== 0x0b) {
      // a non-constant offset: the check refuses it, so its exact length matters little; bound the scan
    }
    return undefined;
  };

  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) fail('no \\0asm magic');
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) fail('not version 1 (a component?)');
  p = 8;
  const types: Signature[] = [];
  const funcTypes: number[] = [];
  const out: WasmSections = { imports: [], exports: [], otherExports: [], hasStart: false, ownMemories: 0, data: [] };
  while (p < bytes.length) {
    const id = byte();
    const size = u32();
    const end = p + size;
    if (end > bytes.length) fail(`section ${id} runs past the end`);
    if (id === 1) {
      for (let i = 0, n = count(100_000); i < n; i++) {
        if (byte() !== 0x60) fail('a type that is not a function type');
        const params = Array.from({ length: count(1000) }, valtype);
        const results = Array.from({ length: count(1000) }, valtype);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let i = 0, n = count(100_000); i < n; i++) {
        const module = name(), field = name(), kind = byte();
        if (kind === 0) {
          const t = u32();
          if (!types[t]) fail(`import ${module}.${field} of an unknown type`);
          funcTypes.push(t);
          out.imports.push({ module, name: field, kind: 'function', ...types[t] });
        } else if (kind === 2) {
          out.imports.push({ module, name: field, kind: 'memory', ...limits() });
        } else if (kind === 1) {
          byte();
          limits();
          out.imports.push({ module, name: field, kind: 'table' });
        } else if (kind === 3) {
          valtype();
          byte();
          out.imports.push({ module, name: field, kind: 'global' });
        } else fail(`import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let i = 0, n = count(1_000_000); i < n; i++) funcTypes.push(u32());
    } else if (id === 5) {
      out.ownMemories += count(100);
    } else if (id === 7) {
      for (let i = 0, n = count(100_000); i < n; i++) {
        const field = name(), kind = byte(), index = u32();
        if (kind === 0) {
          const t = types[funcTypes[index]];
          if (!t) fail(`export ${field} of an unknown function`);
          out.exports.push({ name: field, ...t });
        } else out.otherExports.push(field);
      }
    } else if (id === 8) {
      out.hasStart = true;
    } else if (id === 11) {
      for (let i = 0, n = count(100_000); i < n; i++) {
        const mode = u32();
        if (mode === 1) {
          const len = u32();
          out.data.push({ bytes: len, passive: true });
          p += len;
        } else if (mode === 0 || mode === 2) {
          if (mode === 2) u32(); // memory index
          const offset = constExpr();
          const len = u32();
          out.data.push({ offset, bytes: len, passive: false });
          p += len;
        } else fail(`data segment mode ${mode}`);
        if (p > end) fail('a data segment past its section');
      }
    }
    p = end;
  }
  return out;
}
