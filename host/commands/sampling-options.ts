// The sampling flags shared by `wisp run` (local) and `wisp ask` (over MQTT).
import type { SamplingOptions } from '../engine/sampler.js';
import { intOption, numberOption } from './args.js';

export const SAMPLING_OPTIONS = {
  'max-tokens': { type: 'string', short: 'n' },
  temp: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
} as const;

export const SAMPLING_HELP = `  -n, --max-tokens N      tokens to generate
      --temp T            temperature; 0 = greedy (default 0.8)
      --top-k K           (default 40)      --top-p P   (default 0.95)
      --min-p P           (default 0.05)    --repeat-penalty R (default 1.0, off)
      --seed N            sampler seed (default 0)
      --stop TEXT         stop string (repeatable); it is not printed`;

type SamplingValues = { [K in keyof typeof SAMPLING_OPTIONS]?: K extends 'stop' ? string[] : string };

/** The parsed flags; undefined where not given (the engine's or the device's default applies). */
export function samplingFrom(v: SamplingValues): SamplingOptions & { maxTokens?: number; stop?: string[] } {
  return {
    maxTokens: intOption(v['max-tokens'], 'max-tokens', 0),
    temperature: numberOption(v.temp, 'temp'),
    topK: intOption(v['top-k'], 'top-k'),
    topP: numberOption(v['top-p'], 'top-p'),
    minP: numberOption(v['min-p'], 'min-p'),
    repeatPenalty: numberOption(v['repeat-penalty'], 'repeat-penalty'),
    seed: intOption(v.seed, 'seed'),
    stop: v.stop,
  };
}
