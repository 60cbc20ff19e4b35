// `wisp serve` (what `npm start` runs). For now it loads the model on its engine and says what it
// would serve; the MQTT service (embedded broker, protocol, batching) is issue 6 and not built yet.
import { openModel, parseEngine } from '../engine/open.js';
import { intOption, parseOptions } from './args.js';
import { MODEL_HELP, resolveModelOption } from './model-option.js';

const HELP = `usage: wisp serve [options]

${MODEL_HELP}
      --engine NAME       wasm (default) or reference
  -t, --threads N         kernel threads (default 1)`;

export async function main(argv: string[]): Promise<void> {
  const { values: v } = parseOptions(argv, { model: { type: 'string', short: 'm' }, engine: { type: 'string' }, threads: { type: 'string', short: 't' } }, HELP);
  const path = resolveModelOption(v.model);
  const t0 = performance.now();
  const model = await openModel(path, { engine: v.engine ? parseEngine(v.engine) : undefined, threads: intOption(v.threads, 'threads', 1) });
  const c = model.config;
  try {
    console.log(
      [
        `wisp: loaded ${model.name} from ${path} in ${(performance.now() - t0).toFixed(0)} ms`,
        `  ${c.arch}: dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} KV), ffn ${c.ffnDim}, vocab ${c.vocabSize}, context ${c.contextLength}`,
        `  engine: ${model.description}`,
        '',
        'The MQTT service (embedded broker, wisp/<device>/infer) is not built yet in this version.',
        'Until then, generate locally:',
        `  npx wisp run --model ${JSON.stringify(path)} --prompt "Once upon a time" -n 100 --temp 0`,
      ].join('\n'),
    );
  } finally {
    await model.close();
  }
}
