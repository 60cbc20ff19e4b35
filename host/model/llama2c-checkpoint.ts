// Reads a llama2.c checkpoint (the legacy headerless "version 0" export; the "ak42" v1 export,
// whose tensor order differs, is refused with a clear message)
// into GGUF-named f32 tensors. llama2.c stores q/k rows in the same interleaved RoPE layout that
// llama.cpp's 'normal' RoPE uses, so no permutation is needed (checked against stories260K.gguf).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { configFromShape } from './llama/config.js';
import { embeddingTensor, headTensors, layerTensors, type LayerTensors } from './llama/tensors.js';

/** The roles of a llama2.c block: llama's, none of the optional ones. */
type LayerRole = Extract<keyof LayerTensors<unknown>, 'attnNorm' | 'wq' | 'wk' | 'wv' | 'wo' | 'ffnNorm' | 'wGate' | 'wDown' | 'wUp'>;
/** The order llama2.c's export writes a block's tensors in (each stacked over the layers). */
const FILE_ORDER: readonly LayerRole[] = ['attnNorm', 'wq', 'wk', 'wv', 'wo', 'ffnNorm', 'wGate', 'wDown', 'wUp'];
/** The order llama.cpp's converter writes them in, per layer (wisp convert writes the same file). */
const GGUF_ORDER: readonly LayerRole[] = ['wq', 'wk', 'wv', 'wo', 'attnNorm', 'wGate', 'wDown', 'wUp', 'ffnNorm'];

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  sharedClassifier: boolean;
}

export interface Llama2cTensor {
  name: string;
  /** GGUF order: ne0 (row length) first. */
  dims: number[];
  data: Float32Array;
}

export interface Llama2cCheckpoint {
  config: Llama2cConfig;
  tensors: Llama2cTensor[];
}

const MAGIC_V1 = 0x616b3432; // "ak42"

function fail(path: string, what: string): never {
  throw new Error(`llama2.c checkpoint ${path}: ${what}`);
}

export function readLlama2cCheckpoint(path: string): Llama2cCheckpoint {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 256));
    readSync(fd, head, 0, head.length, 0);
    if (head.length < 28) fail(path, `file is ${size} bytes, too short for a header`);

    if (head.readUInt32LE(0) === MAGIC_V1) {
      const version = head.readInt32LE(4);
      fail(path, `is a llama2.c "ak42" v${version} export; wisp reads the legacy (version 0) export: re-export with llama2.c's export.py --version 0`);
    }
    const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = Array.from({ length: 7 }, (_, i) => head.readInt32LE(4 * i));
    // a negative vocab size means the classifier is stored separately
    const config: Llama2cConfig = { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), seqLen, sharedClassifier: vocab > 0 };
    const dataOffset = 28;
    checkConfig(path, config);

    const c = config;
    // tensor names and shapes as a llama GGUF holds them (a llama2.c model is a llama one)
    const llama = configFromShape({ dim: c.dim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, ffnDim: c.hiddenDim, contextLength: c.seqLen }, c.vocabSize);
    const layers = Array.from({ length: c.nLayers }, (_, l) => layerTensors(llama, l));
    const count = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
    const headDim = llama.headDim;
    const floatsNeeded =
      c.vocabSize * c.dim +
      FILE_ORDER.reduce((n, role) => n + c.nLayers * count(layers[0][role].dims), 0) +
      c.dim +
      c.seqLen * headDim + // freq_cis_real + freq_cis_imag (unused)
      (c.sharedClassifier ? 0 : c.vocabSize * c.dim);
    if (dataOffset + floatsNeeded * 4 > size) {
      fail(path, `needs ${dataOffset + floatsNeeded * 4} bytes for its config (dim ${c.dim}, ${c.nLayers} layers, vocab ${c.vocabSize}), the file has ${size}`);
    }

    let offset = dataOffset;
    const take = (n: number): Float32Array => {
      const out = new Float32Array(n);
      readSync(fd, new Uint8Array(out.buffer), 0, n * 4, offset);
      offset += n * 4;
      return out;
    };
    const tensors: Llama2cTensor[] = [];
    const tokenEmbd = take(c.vocabSize * c.dim);
    tensors.push({ ...embeddingTensor(llama), data: tokenEmbd });
    // per-layer tensors are stored stacked over layers, one role after another
    const perLayer = new Map<LayerRole, Llama2cTensor[]>();
    for (const role of FILE_ORDER) {
      const n = count(layers[0][role].dims);
      const all = take(c.nLayers * n);
      perLayer.set(role, layers.map((t, l) => ({ ...t[role], data: all.subarray(l * n, (l + 1) * n) })));
    }
    const outputNorm = take(c.dim);
    offset += c.seqLen * headDim * 4; // skip the precomputed RoPE tables
    const output = c.sharedClassifier ? tokenEmbd : take(c.vocabSize * c.dim);

    const headSpecs = headTensors(llama);
    tensors.push({ ...headSpecs.outputNorm, data: outputNorm });
    tensors.push({ ...headSpecs.output, data: output });
    for (let l = 0; l < c.nLayers; l++) {
      for (const role of GGUF_ORDER) tensors.push(perLayer.get(role)![l]);
    }
    return { config, tensors };
  } finally {
    closeSync(fd);
  }
}

function checkConfig(path: string, c: Llama2cConfig): void {
  const fields = ['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'seqLen'] as const;
  for (const f of fields) {
    if (!Number.isInteger(c[f]) || c[f] <= 0 || c[f] > 1 << 20) fail(path, `header field ${f} = ${c[f]} is not a plausible size`);
  }
  if (c.dim % c.nHeads !== 0) fail(path, `dim ${c.dim} is not a multiple of n_heads ${c.nHeads}`);
  if (c.nHeads % c.nKvHeads !== 0) fail(path, `n_kv_heads ${c.nKvHeads} does not divide n_heads ${c.nHeads}`);
}
