// The sha256 a model file must have: the publisher's, from the catalog, or — for a catalog entry whose
// publisher states none — the one recorded when wisp first downloaded it (trust on first use). The
// record is a sidecar beside the model, `<file>.sha256`, in sha256sum's format, so
// `sha256sum -c <file>.sha256` checks it too.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { CatalogEntry } from './catalog.js';

/** Where a model's recorded hash lives. */
export function recordPath(modelPath: string): string {
  return `${modelPath}.sha256`;
}

/** The hash recorded beside modelPath on its first download, if any (a malformed record counts as none). */
export function recordedHash(modelPath: string): string | undefined {
  const path = recordPath(modelPath);
  if (!existsSync(path)) return undefined;
  const m = /^([0-9a-f]{64}) [ *]/.exec(readFileSync(path, 'utf8'));
  return m?.[1];
}

/** Records the hash a first download of modelPath got. */
export function recordHash(modelPath: string, sha256: string): void {
  writeFileSync(recordPath(modelPath), `${sha256}  ${basename(modelPath)}\n`);
}

/** The hash a file of this entry at modelPath must have, and where it comes from; undefined: none known yet. */
export function expectedHash(entry: CatalogEntry, modelPath: string): { sha256: string; source: 'publisher' | 'recorded' } | undefined {
  if (entry.sha256) return { sha256: entry.sha256, source: 'publisher' };
  const recorded = recordedHash(modelPath);
  return recorded ? { sha256: recorded, source: 'recorded' } : undefined;
}
