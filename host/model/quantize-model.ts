// `wisp quantize`: re-encode a GGUF model's weight matrices in one type, or in one of llama.cpp's mixes
// (Q4_K_M, …: a type per tensor by llama.cpp's rules, quantize/mixes.ts), streaming one tensor at a
// time. 1-D tensors (norms) are copied as they are. A matrix whose rows the chosen type's blocks cannot
// tile is written in another type, and the report says which and why (llama.cpp's fallbacks).
import { type GGMLType, traitsOf } from './ggml-types.js';
import { GGUFFile, type GGUFHeaderView, GGUFValueType, gv, writeGGUF, type GGUFWriteTensor } from './gguf/index.js';
import { LLAMA_FILE_TYPE } from './llama/metadata.js';
import { keptFloat, quantizedType, storedBytes } from './quantize/index.js';
import { type MixChoice, type MixModel, mixTypes, type QuantMix } from './quantize/mixes.js';

/** A matrix written in another type than the one asked for. */
export interface QuantizeFallback {
  name: string;
  dims: number[];
  /** the type written */
  type: GGMLType;
  /** why, in words: the row length and the block sizes that do not divide it */
  reason: string;
}

export interface QuantizeReport {
  tensors: number;
  /** tensors whose bytes were re-encoded (the rest are copied byte for byte) */
  changed: number;
  /** how many tensors of each type the output holds, by ggml type name ("q8_0": 32) */
  written: Record<string, number>;
  /** 2-D tensors */
  matrices: number;
  /** the matrices written in another type than the requested one, in file order */
  fallbacks: QuantizeFallback[];
}

/** What `wisp quantize` writes: one type for every matrix, or one of llama.cpp's mixes. */
export type QuantizeTarget = GGMLType | QuantMix;

export function quantizeModel(inPath: string, outPath: string, target: QuantizeTarget, onProgress?: (done: number, total: number) => void): QuantizeReport {
  const file = GGUFFile.open(inPath);
  const metadata = new Map(file.metadata);
  // the file type names what was asked for, as llama.cpp does whatever its fallbacks wrote
  const fileType = typeof target === 'number' ? LLAMA_FILE_TYPE[target] : target.ftype;
  if (fileType !== undefined) metadata.set('general.file_type', gv.u32(fileType));
  metadata.set('general.quantization_version', gv.u32(GGML_QNT_VERSION));
  metadata.set('general.quantized_by', gv.str('wisp quantize'));
  let changed = 0;
  let matrices = 0;
  const fallbacks: QuantizeFallback[] = [];
  const written: Record<string, number> = {};
  const choices: MixChoice[] = typeof target === 'number'
    // 1-D tensors (norms) are copied as they are
    ? file.tensors.map((t) => (t.dims.length === 2 ? quantizedType(target, t.type, t.dims[0]) : { type: t.type }))
    : mixTypes(target, mixModel(file), file.tensors, (t) => keptFloat(t.type));
  const tensors: GGUFWriteTensor[] = file.tensors.map((t, i) => {
    const { type, reason } = choices[i];
    if (t.dims.length === 2) {
      matrices++;
      if (reason) fallbacks.push({ name: t.name, dims: t.dims, type, reason });
    }
    const name = traitsOf(type).name;
    written[name] = (written[name] ?? 0) + 1;
    if (type === t.type) return { name: t.name, dims: t.dims, type: t.type, data: () => file.tensorBytes(t.name) };
    changed++;
    return { name: t.name, dims: t.dims, type, data: () => storedBytes(type, file.tensorF32(t.name), t.dims[0]) };
  });
  writeGGUF(outPath, { version: 3, metadata, tensors }, onProgress);
  return { tensors: tensors.length, changed, written, matrices, fallbacks };
}

/** ggml's quantization format version, written as general.quantization_version (as llama.cpp does). */
const GGML_QNT_VERSION = 2;

/** The model facts llama.cpp's mix rules read, from the GGUF metadata. */
function mixModel(file: GGUFHeaderView): MixModel {
  const arch = file.string('general.architecture');
  const count = (key: string): number => {
    const v = file.value(`${arch}.${key}`);
    // a per-layer array (some architectures): llama.cpp's rules read layer 0's
    if (v?.type === GGUFValueType.ARRAY) return Number((v.value as ArrayLike<number>)[0]);
    return file.number(`${arch}.${key}`);
  };
  const nHeads = count('attention.head_count');
  return { arch, nLayers: count('block_count'), nHeads, nKvHeads: file.value(`${arch}.attention.head_count_kv`) ? count('attention.head_count_kv') : nHeads };
}

/**
 * Tensor names with the layer number folded: `blk.0.attn_q.weight`, …, `blk.4.attn_q.weight` →
 * `blk.0-4.attn_q.weight` (layers listed as ranges, e.g. `blk.0,2,5-7.x`), other names as they are,
 * in order of first appearance.
 */
export function foldLayerNames(names: string[]): string[] {
  const groups = new Map<string, number[] | null>();
  for (const n of names) {
    const m = /^blk\.(\d+)\.(.+)$/.exec(n);
    if (!m) {
      groups.set(n, null);
      continue;
    }
    const key = `blk.*.${m[2]}`;
    const layers = groups.get(key) ?? [];
    layers.push(Number(m[1]));
    groups.set(key, layers);
  }
  return [...groups].map(([key, layers]) => (layers ? key.replace('*', ranges(layers)) : key));
}

function ranges(xs: number[]): string {
  const s = [...new Set(xs)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j + 1;
  }
  return out.join(',');
}
