// Writes a bundle's entries as one gzipped tarball under a top folder, with progress. The entries
// come from many places (the checkout, node_modules, a cached Node runtime, text made for this
// bundle), so they are first laid out as symlinks and small files in a staging folder, which
// node-tar then archives following the links: no copy of the large files, one consistent tree.
import { createHash } from 'node:crypto';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar';
import type { Progress } from '../obs/progress.js';
import type { BundleEntry } from './contents.js';

export interface WrittenTarball {
  bytes: number;
  sha256: string;
}

/** A pass-through that reports how many bytes went by. */
function counter(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

/** `makeProgress` gets the archive's size before compression (file sizes plus tar headers). */
export async function writeTarball(entries: BundleEntry[], top: string, out: string, makeProgress: (total: number) => Progress): Promise<WrittenTarball> {
  const stage = mkdtempSync(join(tmpdir(), 'wisp-pack-'));
  const partial = `${out}.partial`;
  let progress: Progress | undefined;
  try {
    for (const e of entries) {
      const path = join(stage, top, e.name);
      mkdirSync(dirname(path), { recursive: true });
      if (e.source !== undefined) symlinkSync(e.source, path);
      else {
        writeFileSync(path, e.content ?? '');
        chmodSync(path, e.mode ?? 0o644);
      }
    }
    // tar header + padding per entry, two zero blocks at the end: close enough for a progress bar
    const total = entries.reduce((s, e) => s + 512 + Math.ceil(e.size / 512) * 512, 1024);
    progress = makeProgress(total);
    progress.start(0);
    const hash = createHash('sha256');
    let bytes = 0;
    const archive = tar.c({ cwd: stage, follow: true, portable: true, noDirRecurse: false }, [top]);
    await pipeline(
      archive,
      counter((n) => progress?.update(Math.min(n, total))),
      createGzip({ level: 6 }),
      counter((n) => (bytes = n)),
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb(null, chunk);
        },
      }),
      createWriteStream(partial),
    );
    progress.update(total);
    progress.stop();
    renameSync(partial, out);
    return { bytes, sha256: hash.digest('hex') };
  } catch (err) {
    progress?.stop();
    rmSync(partial, { force: true });
    throw err;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
