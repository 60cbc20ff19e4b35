// Shared by the tokenizer suites: where the test data is, the golden corpus, and a tiny GGUF
// metadata reader (so these tests depend on no other part of wisp than the tokenizer).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Compiled to dist/test/, so the repository root is two levels up.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GOLDEN_DIR = resolve(ROOT, 'test', 'golden', 'tokenizer');
export const TOKENIZER_DIR = process.env.WISP_TOKENIZER_DIR ?? resolve(ROOT, '..', 'shared', 'tokenizers');
export const MODEL_DIR = process.env.WISP_MODEL_PATH ?? resolve(ROOT, '..', 'shared', 'models');

export const LLAMA2_TOKENIZER_BIN = resolve(TOKENIZER_DIR, 'llama2', 'tokenizer.bin');
export const TOK512_BIN = resolve(MODEL_DIR, 'tok512.bin');
export const STORIES260K_GGUF = resolve(MODEL_DIR, 'stories260K.gguf');

export function requireFile(path: string): string {
  if (!existsSync(path)) throw new Error(`test data missing: ${path} (set WISP_TOKENIZER_DIR / WISP_MODEL_PATH)`);
  return path;
}

/** test/golden/tokenizer/corpus.json, made by scripts/golden/tokenizer_corpus.mjs. */
export function loadCorpus(): string[] {
  const corpus = JSON.parse(readFileSync(resolve(GOLDEN_DIR, 'corpus.json'), 'utf8')) as { strings: string[] };
  return corpus.strings;
}

/** A short, printable description of a corpus string for failure messages. */
export function show(s: string, i?: number): string {
  const text = JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s);
  return i === undefined ? text : `corpus[${i}] ${text}`;
}

export function wellFormed(s: string): string {
  return s.replace(/\p{Surrogate}/gu, '\uFFFD');
}

/** A GGUF file's metadata as plain JS values (arrays as arrays), read without wisp's GGUF reader. */
export function readGgufMetadata(path: string): Map<string, unknown> {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  const u32 = () => { at += 4; return view.getUint32(at - 4, true); };
  const u64 = () => { at += 8; return Number(view.getBigUint64(at - 8, true)); };
  const str = () => { const n = u64(); at += n; return buf.toString('utf8', at - n, at); };
  const value = (type: number): unknown => {
    switch (type) {
      case 0: at += 1; return view.getUint8(at - 1);
      case 1: at += 1; return view.getInt8(at - 1);
      case 2: at += 2; return view.getUint16(at - 2, true);
      case 3: at += 2; return view.getInt16(at - 2, true);
      case 4: return u32();
      case 5: at += 4; return view.getInt32(at - 4, true);
      case 6: at += 4; return view.getFloat32(at - 4, true);
      case 7: at += 1; return view.getUint8(at - 1) !== 0;
      case 8: return str();
      case 9: { const t = u32(); const n = u64(); return Array.from({ length: n }, () => value(t)); }
      case 10: return u64();
      case 11: at += 8; return Number(view.getBigInt64(at - 8, true));
      case 12: at += 8; return view.getFloat64(at - 8, true);
      default: throw new Error(`${path}: unknown GGUF value type ${type}`);
    }
  };
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error(`${path} is not a GGUF file`);
  at = 8; // magic, version
  u64(); // tensor count
  const count = u64();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < count; i++) {
    const key = str();
    metadata.set(key, value(u32()));
  }
  return metadata;
}
