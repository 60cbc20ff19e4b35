// Reads a llama2.c checkpoint (the legacy headerless "version 0" export; the "ak42" v1 export,
// whose tensor order differs, is refused with a clear message)
// into GGUF-named f32 tensors. llama2.c stores q/k rows in the same interleaved RoPE layout that
// llama.cpp's 'normal' RoPE uses, so no permutation is needed (checked against stories260K.gguf).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

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
    const headDim = c.dim / c.nHeads;
    const kvDim = c.nKvHeads * headDim;
    // [name, rows, cols] in file order; per-layer tensors are stored stacked over layers
    const layerBlocks: Array<[string, number, number]> = [
      ['attn_norm', 1, c.dim],
      ['attn_q', c.dim, c.dim],
      ['attn_k', kvDim, c.dim],
      ['attn_v', kvDim, c.dim],
      ['attn_output', c.dim, c.dim],
      ['ffn_norm', 1, c.dim],
      ['ffn_gate', c.hiddenDim, c.dim],
      ['ffn_down', c.dim, c.hiddenDim],
      ['ffn_up', c.hiddenDim, c.dim],
    ];
    const floatsNeeded =
      c.vocabSize * c.dim +
      layerBlocks.reduce((n, [, r, k]) => n + c.nLayers * r * k, 0) +
      c.dim +
      c.seqLen * headDim + // freq_cis_real + freq_cis_imag (unused)
      (c.sharedClassifier ? 0 : c.vocabSize * c.dim);
    if (dataOffset + floatsNeeded * 4 > size) {
      fail(path, `needs ${dataOffset + floatsNeeded * 4} bytes for its config (dim ${c.dim}, ${c.nLayers} layers, vocab ${c.vocabSize}), the file has ${size}`);
    }

    let offset = dataOffset;
    const take = (count: number): Float32Array => {
      const out = new Float32Array(count);
      readSync(fd, new Uint8Array(out.buffer), 0, count * 4, offset);
      offset += count * 4;
      return out;
    };
    const tensors: Llama2cTensor[] = [];
    const tokenEmbd = take(c.vocabSize * c.dim);
    tensors.push({ name: 'token_embd.weight', dims: [c.dim, c.vocabSize], data: tokenEmbd });
    const perLayer = new Map<string, Llama2cTensor[]>();
    for (const [name, rows, cols] of layerBlocks) {
      const all = take(c.nLayers * rows * cols);
      perLayer.set(
        name,
        Array.from({ length: c.nLayers }, (_, l) => ({
          name: `blk.${l}.${name}.weight`,
          dims: rows === 1 ? [cols] : [cols, rows],
          data: all.subarray(l * rows * cols, (l + 1) * rows * cols),
        })),
      );
    }
    const outputNorm = take(c.dim);
    offset += c.seqLen * headDim * 4; // skip the precomputed RoPE tables
    const output = c.sharedClassifier ? tokenEmbd : take(c.vocabSize * c.dim);

    tensors.push({ name: 'output_norm.weight', dims: [c.dim], data: outputNorm });
    tensors.push({ name: 'output.weight', dims: [c.dim, c.vocabSize], data: output });
    const ggufLayerOrder = ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'attn_norm', 'ffn_gate', 'ffn_down', 'ffn_up', 'ffn_norm'];
    for (let l = 0; l < c.nLayers; l++) {
      for (const name of ggufLayerOrder) tensors.push(perLayer.get(name)![l]);
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
