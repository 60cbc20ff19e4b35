// `wisp serve` (what `npm start` runs). For now it loads the model and says what it would serve;
// the MQTT service (embedded broker, protocol, batching) is issue 6 and not built yet.
import { loadModel } from '../engine/load-model.js';
import { formatBytes } from '../obs/progress.js';
import { parseOptions } from './args.js';
import { MODEL_HELP, resolveModelOption } from './model-option.js';

const HELP = `usage: wisp serve [options]

${MODEL_HELP}`;

export async function main(argv: string[]): Promise<void> {
  const { values: v } = parseOptions(argv, { model: { type: 'string', short: 'm' } }, HELP);
  const path = resolveModelOption(v.model);
  const t0 = performance.now();
  const model = loadModel(path);
  const c = model.config;
  const name = model.file.optString('general.name') ?? path;
  console.log(
    [
      `wisp: loaded ${name} from ${path} in ${(performance.now() - t0).toFixed(0)} ms`,
      `  ${c.arch}: dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} KV), ffn ${c.ffnDim}, vocab ${c.vocabSize}, context ${c.contextLength}`,
      `  weights ${formatBytes(model.file.header.dataByteLength)}, engine: reference (f32 JS)`,
      '',
      'The MQTT service (embedded broker, wisp/<device>/infer) is not built yet in this version.',
      'Until then, generate locally:',
      `  npx wisp run --model ${JSON.stringify(path)} --prompt "Once upon a time" -n 100 --temp 0`,
    ].join('\n'),
  );
}
