// `wisp info`: what a GGUF file holds, read from its header only.
import { traitsOf } from '../model/ggml-types.js';
import { readGGUFHeader, type GGUFValue } from '../model/gguf/index.js';
import { formatBytes } from '../obs/progress.js';
import { parseOptions } from './args.js';
import { MODEL_HELP, resolveModelOption } from './model-option.js';

const HELP = `usage: wisp info [--model PATH|NAME] [--tensors]

${MODEL_HELP}
      --tensors           list every tensor`;

function show(v: GGUFValue): string {
  if (v.type === 9) {
    const items = Array.from(v.value as ArrayLike<unknown>);
    const head = items.slice(0, 6).map((x) => JSON.stringify(typeof x === 'bigint' ? String(x) : x));
    return `[${head.join(', ')}${items.length > 6 ? `, … ${items.length} items` : ''}]`;
  }
  if (typeof v.value === 'string') return JSON.stringify(v.value.length > 120 ? `${v.value.slice(0, 120)}…` : v.value);
  return String(v.value);
}

export async function main(argv: string[]): Promise<void> {
  const { values: v } = parseOptions(argv, { model: { type: 'string', short: 'm' }, tensors: { type: 'boolean' } }, HELP);
  const path = resolveModelOption(v.model);
  const h = readGGUFHeader(path);
  console.log(`${path}: GGUF v${h.version}, ${h.metadata.size} metadata keys, ${h.tensors.length} tensors, data ${formatBytes(h.dataByteLength)}`);
  for (const [key, value] of h.metadata) console.log(`  ${key} = ${show(value)}`);
  const byType = new Map<string, number>();
  for (const t of h.tensors) byType.set(traitsOf(t.type).name, (byType.get(traitsOf(t.type).name) ?? 0) + 1);
  console.log(`  tensor types: ${[...byType].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  if (v.tensors) {
    for (const t of h.tensors) console.log(`  ${t.name.padEnd(28)} ${traitsOf(t.type).name.padEnd(5)} [${t.dims.join(', ')}]`);
  }
}
