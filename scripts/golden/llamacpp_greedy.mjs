#!/usr/bin/env node
// Freezes llama.cpp's greedy token ids for a model and prompt as a golden file for the tests.
//
// llama.cpp is the correctness anchor, but it is not a dependency of wisp: install
// node-llama-cpp somewhere outside the project (its prebuilt linux binaries suffice),
//   mkdir /tmp/oracle && cd /tmp/oracle && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install node-llama-cpp
// then run
//   NODE_PATH=/tmp/oracle/node_modules node scripts/golden/llamacpp_greedy.mjs \
//     ../shared/models/stories260K.gguf "Once upon a time" 300 > test/golden/stories260K-greedy.json
// It evaluates the prompt (with BOS) in a 512-token context, F32 KV cache, 1 thread,
// temperature 0, and records the first N generated ids without stopping at EOS.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const require = createRequire(process.env.NODE_PATH ? `${process.env.NODE_PATH}/` : import.meta.url);
const entry = require.resolve('node-llama-cpp');
const { getLlama, LlamaLogLevel } = await import(entry);
const nlcVersion = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')).version;

const [modelPath, prompt = 'Once upon a time', nArg = '300'] = process.argv.slice(2);
if (!modelPath) {
  console.error('usage: llamacpp_greedy.mjs MODEL.gguf [PROMPT] [N]');
  process.exit(2);
}
const n = Number(nArg);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: 512, threads: 1 });
const sequence = context.getSequence();
// BOS first, as llama.cpp's own tools add it for this SentencePiece vocab (add_bos defaults to true).
const promptIds = [model.tokens.bos, ...model.tokenize(prompt, false)];
const ids = [];
for await (const id of sequence.evaluate(promptIds, { temperature: 0 })) {
  ids.push(id);
  if (ids.length >= n) break;
}
console.log(JSON.stringify({
  note: `greedy ids from llama.cpp (node-llama-cpp ${nlcVersion}, prebuilt CPU build, llama.cpp ${llama.llamaCppRelease?.release ?? 'unknown'}), ` +
    `context 512, F32 KV cache, 1 thread, temperature 0; made by scripts/golden/llamacpp_greedy.mjs`,
  model: basename(modelPath),
  prompt,
  promptIds: Array.from(promptIds),
  ids,
  text: model.detokenize(ids),
}, null, 1));
await context.dispose();
await model.dispose();
