// `wisp run`: generate from a prompt (wasm kernels, the reference engine, all-ONNX, or a routing
// plan mixing them per layer), streaming text to stdout.
import { generate } from '../engine/generate.js';
import { validateSampling } from '../engine/sampler.js';
import { openModel } from '../engine/open.js';
import { encodeChat, hasChatTemplate } from '../model/chat-prompt.js';
import { intOption, parseOptions, UsageError } from './args.js';
import { chatTemplateOption, noTemplateError, TEMPLATE_HELP } from './chat-option.js';
import { MODEL_HELP, resolveOrPullModel } from './model-option.js';
import { placementTable } from '../engine/placement.js';
import { activationsOption, engineChoice, KERNELS_HELP, kvOption } from './engine-options.js';
import { SAMPLING_HELP, SAMPLING_OPTIONS, samplingFrom } from './sampling-options.js';

const HELP = `usage: wisp run [options] [--prompt TEXT]

${MODEL_HELP}
  -p, --prompt TEXT       the prompt (default: "Once upon a time")
      --chat              treat the prompt as a user message and apply the model's chat template
${TEMPLATE_HELP}
      --system TEXT       system message for --chat
${SAMPLING_HELP} (default -n 128)
      --ctx N             context size (default: the model's)
      --ignore-eos        keep generating past end-of-sequence tokens
      --engine NAME       wasm (default: the SIMD kernels), reference (the f32 JS oracle), onnx (all
                          layers in one ONNX Runtime session on the CPU provider) or routed (the
                          routing plan of the detected device profile)
      --profile NAME|PATH run each layer's attention/ffn and the head where this device profile's
                          routing plan says (see \`wisp profile show\`); fallbacks are logged once
      --route JSON        a routing table, e.g. '{"default":"wasm","rules":[{"layers":"even","backend":"onnx:cpu"}]}'
                          (over --profile's providers when given, else the providers it names, then cpu)
${KERNELS_HELP}
      --placement         print where each block ran (stderr)
  -t, --threads N         kernel threads for the wasm and routed engines (default: the device
                          profile's, --profile or the detected one: "auto" = the cores), ORT
                          threads for onnx (default 1); the count used and why go to stderr
      --kv f32|f16        KV cache type for the wasm engine (default f32)
      --activations q8|q16  activations of the wasm engine's quantized matmuls: q8, ggml's 8-bit ones
                          (llama.cpp's math, the default), or q16 (16-bit, closer to f32 math)
      --ids               print the token ids at the end (for golden comparisons)`;

export async function main(argv: string[]): Promise<void> {
  const { values: v } = parseOptions(
    argv,
    {
      model: { type: 'string', short: 'm' },
      prompt: { type: 'string', short: 'p' },
      chat: { type: 'boolean' },
      template: { type: 'string' },
      system: { type: 'string' },
      ...SAMPLING_OPTIONS,
      ctx: { type: 'string' },
      'ignore-eos': { type: 'boolean' },
      ids: { type: 'boolean' },
      engine: { type: 'string' },
      threads: { type: 'string', short: 't' },
      kv: { type: 'string' },
      activations: { type: 'string' },
      profile: { type: 'string' },
      route: { type: 'string' },
      kernels: { type: 'string' },
      placement: { type: 'boolean' },
    },
    HELP,
  );
  // every option is checked before the model (and its kernel workers) is opened
  const kvType = kvOption(v.kv);
  const activations = activationsOption(v.activations);
  if (v.system && !v.chat) throw new UsageError('--system needs --chat');
  if (v.template !== undefined && !v.chat) throw new UsageError('--template needs --chat');
  const template = chatTemplateOption(v.template);
  const { engine, routing, kernels } = engineChoice(v);
  const threads = intOption(v.threads, 'threads', 1);
  const contextSize = intOption(v.ctx, 'ctx', 1);
  const sampling = samplingFrom(v);
  const options = {
    ...sampling,
    maxTokens: sampling.maxTokens ?? 128,
    temperature: sampling.temperature ?? 0.8,
    contextSize,
    ignoreEos: v['ignore-eos'],
  };
  validateSampling(options);
  const path = await resolveOrPullModel(v.model);
  const t0 = performance.now();
  // load-time notes (the thread count) print once the model has loaded, so a load error comes alone
  const notes: string[] = [];
  const model = await openModel(path, {
    engine,
    threads,
    contextSize,
    kvType,
    activations,
    profile: v.profile,
    routing,
    kernels,
    log: { warn: (msg) => process.stderr.write(`wisp: ${msg}\n`), info: (msg) => notes.push(msg) },
  });
  const loadMs = performance.now() - t0;
  for (const n of notes) process.stderr.write(`wisp: ${n}\n`);
  try {
    if (v.chat && template === undefined && !hasChatTemplate(model.tokenizer)) throw noTemplateError(path);
    const prompt = v.prompt ?? 'Once upon a time';
    const messages = [...(v.system ? [{ role: 'system', content: v.system }] : []), { role: 'user', content: prompt }];
    const promptIds = v.chat ? encodeChat(model.tokenizer, messages, template) : model.tokenizer.encode(prompt);

    process.stdout.write(v.chat ? '' : prompt);
    const steps = generate(model.model, model.tokenizer, promptIds, options);
    let r = await steps.next();
    while (!r.done) {
      process.stdout.write(r.value.text);
      r = await steps.next();
    }
    const res = r.value;
    process.stdout.write('\n');
    if (v.ids) console.log(JSON.stringify(res.ids));
    const t = res.timings;
    process.stderr.write(
      `\nprompt: ${res.usage.promptTokens} tokens, ${t.prefillTokensPerSecond.toFixed(1)} tok/s | ` +
        `generated: ${res.usage.completionTokens} tokens, ${t.decodeTokensPerSecond.toFixed(1)} tok/s | ` +
        `finish: ${res.finishReason} | load ${loadMs.toFixed(0)} ms | engine: ${model.description}\n`,
    );
    if (v.placement) process.stderr.write(`${placementTable(model.placement(), model.opTimes())}\n`);
  } finally {
    await model.close();
  }
}
