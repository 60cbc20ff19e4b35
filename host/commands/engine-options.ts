// --engine, --profile, --route and --kernels, shared by run and serve.
import { parseEngine, type EngineName } from '../engine/open.js';
import { parseActivations, type ActivationChoice } from '../model/block-formats.js';
import type { RoutingTable } from '../profiles/index.js';
import { UsageError } from './args.js';

export const ENGINE_OPTIONS = {
  engine: { type: 'string' },
  profile: { type: 'string' },
  route: { type: 'string' },
  kernels: { type: 'string' },
} as const;

/** The help line of --kernels (run, serve). */
export const KERNELS_HELP = `      --kernels FLAVOUR   run the kernels in this flavour (simd128 or relaxed) instead of the one
                          chosen for this runtime and CPU (a canary and a short timing at load)`;

export function engineChoice(v: { engine?: string; profile?: string; route?: string; kernels?: string }): { engine?: EngineName; profile?: string; routing?: RoutingTable; kernels?: string } {
  const engine = v.engine ? parseEngine(v.engine) : undefined;
  let routing: RoutingTable | undefined;
  if (v.route !== undefined) {
    try {
      routing = JSON.parse(v.route) as RoutingTable;
    } catch (err) {
      throw new UsageError(`--route: not valid JSON: ${(err as Error).message}`);
    }
  }
  if ((v.profile !== undefined || routing) && engine !== undefined && engine !== 'routed' && engine !== 'wasm') {
    throw new UsageError(`--profile and --route run on the routed engine, not --engine ${engine}`);
  }
  if (v.kernels !== undefined && (engine === 'reference' || engine === 'onnx')) throw new UsageError(`--kernels chooses the wasm kernels; --engine ${engine} runs none`);
  return { engine, profile: v.profile, routing, kernels: v.kernels };
}

/** --kv: the KV cache type, f32 or f16 (undefined when not given). */
export function kvOption(value: string | undefined): 'f32' | 'f16' | undefined {
  if (value !== undefined && value !== 'f32' && value !== 'f16') throw new UsageError(`--kv must be f32 or f16, got '${value}'`);
  return value;
}

/** --activations: q8 (ggml's 8-bit activations, llama.cpp's math; the default) or q16 (undefined when not given). */
export function activationsOption(value: string | undefined): ActivationChoice | undefined {
  if (value === undefined) return undefined;
  try {
    return parseActivations(value);
  } catch (err) {
    throw new UsageError(`--activations: ${(err as Error).message}`);
  }
}
