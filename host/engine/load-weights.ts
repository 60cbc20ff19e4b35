// Maps a GGUF file's llama-family tensors onto the reference engine's f32 weights
// (views for F32 tensors, dequantized copies for everything else).
import type { GGUFFile, GGUFHeaderView } from '../model/gguf/index.js';
import type { LlamaConfig } from '../model/llama-config.js';
import type { LayerWeights, LlamaWeights } from './reference.js';

/** GGUF tensor names of one llama block, with the shape [ne0, ne1] each must have. */
export function layerTensorNames(l: number) {
  const p = `blk.${l}.`;
  return {
    attnNorm: `${p}attn_norm.weight`,
    wq: `${p}attn_q.weight`,
    wk: `${p}attn_k.weight`,
    wv: `${p}attn_v.weight`,
    bq: `${p}attn_q.bias`,
    bk: `${p}attn_k.bias`,
    bv: `${p}attn_v.bias`,
    wo: `${p}attn_output.weight`,
    ffnNorm: `${p}ffn_norm.weight`,
    wGate: `${p}ffn_gate.weight`,
    wUp: `${p}ffn_up.weight`,
    wDown: `${p}ffn_down.weight`,
  } as const;
}

/** Expected [ne0, ne1] of every tensor, so a mismatched file fails at load with the tensor's name. */
export function expectedShapes(c: LlamaConfig): Map<string, number[]> {
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const shapes = new Map<string, number[]>([
    ['token_embd.weight', [c.dim, c.vocabSize]],
    ['output_norm.weight', [c.dim]],
  ]);
  if (!c.tiedOutput) shapes.set('output.weight', [c.dim, c.vocabSize]);
  for (let l = 0; l < c.nLayers; l++) {
    const n = layerTensorNames(l);
    shapes.set(n.attnNorm, [c.dim]);
    shapes.set(n.wq, [c.dim, qDim]);
    shapes.set(n.wk, [c.dim, kvDim]);
    shapes.set(n.wv, [c.dim, kvDim]);
    if (c.qkvBias) {
      shapes.set(n.bq, [qDim]);
      shapes.set(n.bk, [kvDim]);
      shapes.set(n.bv, [kvDim]);
    }
    shapes.set(n.wo, [qDim, c.dim]);
    shapes.set(n.ffnNorm, [c.dim]);
    shapes.set(n.wGate, [c.dim, c.ffnDim]);
    shapes.set(n.wUp, [c.dim, c.ffnDim]);
    shapes.set(n.wDown, [c.ffnDim, c.dim]);
  }
  return shapes;
}

export function checkTensorShapes(file: GGUFHeaderView, c: LlamaConfig): void {
  for (const [name, shape] of expectedShapes(c)) {
    const dims = file.tensorInfo(name).dims;
    if (dims.length !== shape.length || dims.some((d, i) => d !== shape[i])) {
      throw new Error(`tensor '${name}' has shape [${dims.join(', ')}], the model config needs [${shape.join(', ')}]`);
    }
  }
}

export function loadLlamaWeightsF32(file: GGUFFile, c: LlamaConfig): LlamaWeights {
  checkTensorShapes(file, c);
  const t = (name: string) => file.tensorF32(name);
  const layers: LayerWeights[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const n = layerTensorNames(l);
    layers.push({
      attnNorm: t(n.attnNorm),
      wq: t(n.wq),
      wk: t(n.wk),
      wv: t(n.wv),
      ...(c.qkvBias ? { bq: t(n.bq), bk: t(n.bk), bv: t(n.bv) } : {}),
      wo: t(n.wo),
      ffnNorm: t(n.ffnNorm),
      wGate: t(n.wGate),
      wUp: t(n.wUp),
      wDown: t(n.wDown),
    });
  }
  const tokenEmbd = t('token_embd.weight');
  return {
    tokenEmbd,
    layers,
    outputNorm: t('output_norm.weight'),
    output: c.tiedOutput ? tokenEmbd : t('output.weight'),
  };
}
