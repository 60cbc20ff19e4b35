// Input files named on the command line (a llama2.c checkpoint, a tokenizer): the current folder
// first, as a shell user expects; a bare file name not found there is looked up where wisp keeps
// data: the model search path and the tokenizer folders ($WISP_TOKENIZER_DIR, the test data
// beside a checkout), so the README's commands run as written in a checkout.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { repoRoot } from '../model/catalog.js';
import { modelSearchDirs } from '../model/resolve.js';
import { UsageError } from './args.js';

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Folders a bare input name is looked for in, after the current folder. */
export function dataDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const tokenizerRoots = [env.WISP_TOKENIZER_DIR, join(repoRoot(), '..', 'shared', 'tokenizers')].filter((d): d is string => !!d && existsSync(d));
  // tokenizer folders hold one folder per vocabulary (llama2/tokenizer.bin)
  const tokenizerDirs = tokenizerRoots.flatMap((d) => [d, ...readdirSync(d).map((n) => join(d, n)).filter((p) => statSync(p).isDirectory())]);
  return [...new Set([...modelSearchDirs({ env }), ...tokenizerDirs.map((d) => resolve(d))])];
}

/**
 * The file `spec` names: ./spec when it exists (or any path with a folder in it), else the first
 * data folder that has a file of that name (said on stderr). `what` names it in the error.
 */
export function findInputFile(spec: string, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const here = resolve(spec);
  if (isFile(here)) return here;
  if (existsSync(here)) throw new UsageError(`${what} ${spec} is a directory, not a file`);
  if (!spec.includes('/') && !spec.includes(sep)) {
    const found = dataDirs(env).map((d) => join(d, spec)).find(isFile);
    if (found) {
      process.stderr.write(`wisp: ${spec}: using ${found}\n`);
      return found;
    }
    throw new UsageError(`${what} ${spec}: no such file here, nor in the model search path or tokenizer folders (give its path)`);
  }
  throw new UsageError(`${what} ${spec}: no such file`);
}
