// Opens a model on an engine: the wasm kernels (the product) or the JS f32 reference (the oracle).
import { WasmModel } from '../backends/wasm/model.js';
import { GGUFHeaderView } from '../model/gguf/index.js';
import type { LlamaConfig } from '../model/llama-config.js';
import type { Tokenizer } from '../model/tokenizer/index.js';
import type { TokenModel } from './generate.js';
import { checkVocabulary, loadModel, tokenizerFromGGUF } from './load-model.js';

export const ENGINES = ['wasm', 'reference'] as const;
export type EngineName = (typeof ENGINES)[number];

export interface OpenOptions {
  engine?: EngineName;
  threads?: number;
  contextSize?: number;
  kvType?: 'f32' | 'f16';
  /** KV cache slots (sequences decoding at once; the wasm engine plans their memory at load). */
  maxSequences?: number;
}

export interface OpenModel {
  path: string;
  name: string;
  config: LlamaConfig;
  tokenizer: Tokenizer;
  model: TokenModel<unknown>;
  /** e.g. "wasm (2 threads)" */
  description: string;
  close(): Promise<void>;
}

export function parseEngine(name: string): EngineName {
  if (!(ENGINES as readonly string[]).includes(name)) throw new Error(`unknown engine '${name}'; choose ${ENGINES.join(' or ')}`);
  return name as EngineName;
}

export async function openModel(path: string, opts: OpenOptions = {}): Promise<OpenModel> {
  const engine = opts.engine ?? 'wasm';
  if (engine === 'reference') {
    const m = loadModel(path);
    return {
      path,
      name: m.file.optString('general.name') ?? path,
      config: m.config,
      tokenizer: m.tokenizer,
      model: m.engine as TokenModel<unknown>,
      description: 'reference (f32 JS)',
      close: async () => {},
    };
  }
  const threads = opts.threads ?? 1;
  const wasm = WasmModel.load(path, { threads, contextSize: opts.contextSize, kvType: opts.kvType, maxSequences: opts.maxSequences });
  let tokenizer: Tokenizer;
  const header = new GGUFHeaderView(path, wasm.file.header);
  try {
    await wasm.ready();
    tokenizer = tokenizerFromGGUF(header);
    checkVocabulary(path, tokenizer, wasm.config);
  } catch (err) {
    await wasm.close();
    throw err;
  }
  return {
    path,
    name: header.optString('general.name') ?? path,
    config: wasm.config,
    tokenizer,
    model: wasm as TokenModel<unknown>,
    description: `wasm (${threads} thread${threads === 1 ? '' : 's'}, ${opts.kvType ?? 'f32'} KV)`,
    close: () => wasm.close(),
  };
}
