// llama.cpp as the speed anchor, through node-llama-cpp when it is installed (it is not a
// dependency: install it anywhere and point WISP_LLAMACPP at its node_modules, or install it in
// this project). Same model file, same prompt token ids, same thread count, greedy decoding.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface SpeedResult {
  promptTokens: number;
  generatedTokens: number;
  /** prompt tokens / time to the first generated token */
  prefillTokensPerSecond: number;
  /** tokens after the first / time from the first to the last */
  decodeTokensPerSecond: number;
}

/** The figures of one timed generation: t0 before the prompt, tFirst at the first generated token, tEnd at the last. */
export function speedResult(promptTokens: number, generatedTokens: number, t0: number, tFirst: number, tEnd: number): SpeedResult {
  return {
    promptTokens,
    generatedTokens,
    prefillTokensPerSecond: (promptTokens * 1000) / (tFirst - t0),
    decodeTokensPerSecond: ((generatedTokens - 1) * 1000) / (tEnd - tFirst),
  };
}

// node-llama-cpp is optional and untyped here: its module namespace as loose data.
type NodeLlamaCpp = Record<string, any>;

export async function loadNodeLlamaCpp(): Promise<NodeLlamaCpp | undefined> {
  const bases = [process.env.WISP_LLAMACPP, ...(process.env.NODE_PATH ?? '').split(':'), join(process.cwd(), 'node_modules')].filter(Boolean) as string[];
  for (const base of bases) {
    try {
      const entry = createRequire(join(base, 'noop.js')).resolve('node-llama-cpp');
      return (await import(pathToFileURL(entry).href)) as NodeLlamaCpp;
    } catch {
      // not here
    }
  }
  try {
    return (await import('node-llama-cpp' as string)) as NodeLlamaCpp;
  } catch {
    return undefined;
  }
}

/** One Llama and one model per measurement, disposed together by close(). */
async function openModel(nlc: NodeLlamaCpp, modelPath: string): Promise<{ model: any; close(): Promise<void> }> {
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
  try {
    const model = await llama.loadModel({ modelPath });
    return {
      model,
      async close() {
        await model.dispose();
        await llama.dispose();
      },
    };
  } catch (err) {
    await llama.dispose();
    throw err;
  }
}

export async function llamaCppSpeed(nlc: NodeLlamaCpp, modelPath: string, promptIds: number[], genTokens: number, threads: number): Promise<SpeedResult> {
  const { model, close } = await openModel(nlc, modelPath);
  try {
    const context = await model.createContext({ contextSize: Math.max(512, promptIds.length + genTokens + 8), threads, batchSize: 512 });
    try {
      const sequence = context.getSequence();
      const t0 = performance.now();
      let tFirst = 0;
      let n = 0;
      for await (const _ of sequence.evaluate(promptIds, { temperature: 0 })) {
        n++;
        if (n === 1) tFirst = performance.now();
        if (n >= genTokens) break;
      }
      return speedResult(promptIds.length, n, t0, tFirst, performance.now());
    } finally {
      await context.dispose();
    }
  } finally {
    await close();
  }
}

/** llama.cpp's multi-sequence decode at one sequence count. */
export interface BatchSpeed {
  sequences: number;
  /** Generated tokens, all sequences together. */
  generatedTokens: number;
  seconds: number;
  /** generatedTokens / the wall time from the first evaluate to the last token (prefills included, as over MQTT). */
  tokensPerSecond: number;
  /** tokensPerSecond / that of 1 sequence. */
  ratio: number;
}

/**
 * n sequences of one context, each a greedy generation of genTokens tokens from prompts[k % prompts.length],
 * all at once: node-llama-cpp batches the sequences' pending tokens into one llama_decode per step, so
 * this is llama.cpp's own batching on the model file, beside wisp's decodeBatch. One context per count;
 * 1 sequence is always measured, as the ratios' base.
 */
export async function llamaCppBatchSpeed(nlc: NodeLlamaCpp, modelPath: string, prompts: number[][], genTokens: number, threads: number, counts: number[]): Promise<BatchSpeed[]> {
  const { model, close } = await openModel(nlc, modelPath);
  try {
    const contextSize = Math.max(512, Math.max(...prompts.map((p) => p.length)) + genTokens + 8);
    const measured: Array<Omit<BatchSpeed, 'ratio'>> = [];
    for (const n of [...new Set([1, ...counts])]) {
      // contextSize is per sequence: each gets its own cells
      const context = await model.createContext({ contextSize, sequences: n, threads, batchSize: 512 });
      try {
        const sequences = Array.from({ length: n }, () => context.getSequence());
        const t0 = performance.now();
        const generated = await Promise.all(
          sequences.map(async (sequence, k) => {
            let made = 0;
            for await (const _ of sequence.evaluate(prompts[k % prompts.length], { temperature: 0 })) {
              if (++made >= genTokens) break;
            }
            return made;
          }),
        );
        const seconds = (performance.now() - t0) / 1000;
        const tokens = generated.reduce((a, b) => a + b, 0);
        measured.push({ sequences: n, generatedTokens: tokens, seconds, tokensPerSecond: tokens / seconds });
      } finally {
        await context.dispose();
      }
    }
    const one = measured.find((m) => m.sequences === 1)!;
    return measured.map((m) => ({ ...m, ratio: m.tokensPerSecond / one.tokensPerSecond }));
  } finally {
    await close();
  }
}
