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

export async function llamaCppSpeed(nlc: NodeLlamaCpp, modelPath: string, promptIds: number[], genTokens: number, threads: number): Promise<SpeedResult> {
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath });
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
    const tEnd = performance.now();
    return {
      promptTokens: promptIds.length,
      generatedTokens: n,
      prefillTokensPerSecond: (promptIds.length * 1000) / (tFirst - t0),
      decodeTokensPerSecond: ((n - 1) * 1000) / (tEnd - tFirst),
    };
  } finally {
    await context.dispose();
    await model.dispose();
  }
}
