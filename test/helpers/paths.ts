// Where tests find the shared data (never copied into the repo) and the built CLI.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repo root: this file is compiled to dist/test/helpers/paths.js. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = join(ROOT, 'dist', 'host', 'cli.js');

function firstExisting(candidates: Array<string | undefined>): string | undefined {
  return candidates.find((p): p is string => !!p && existsSync(p));
}

export const MODELS_DIR = firstExisting([
  ...(process.env.WISP_MODEL_PATH ?? '').split(':'),
  join(ROOT, '..', 'shared', 'models'),
]);
export const TOKENIZERS_DIR = firstExisting([process.env.WISP_TOKENIZER_DIR, join(ROOT, '..', 'shared', 'tokenizers')]);

/** A test model file, or undefined when the shared data is not beside the checkout. */
export function modelFile(file: string): string | undefined {
  const p = MODELS_DIR && join(MODELS_DIR, file);
  return p && existsSync(p) ? p : undefined;
}

export function sharedModel(file: string): string {
  const p = MODELS_DIR && join(MODELS_DIR, file);
  if (!p || !existsSync(p)) throw new Error(`test data ${file} not found: set WISP_MODEL_PATH to the folder with the shared models`);
  return p;
}

export function sharedTokenizer(rel: string): string {
  const p = TOKENIZERS_DIR && join(TOKENIZERS_DIR, rel);
  if (!p || !existsSync(p)) throw new Error(`test data ${rel} not found: set WISP_TOKENIZER_DIR to the shared tokenizers folder`);
  return p;
}
