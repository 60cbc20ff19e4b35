// Streaming sha256 of files on disk, so multi-gigabyte models never sit in memory at once.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Feeds the first `length` bytes of a file (all of it by default) into `hash`. */
export async function hashFileInto(hash: Hash, path: string, length?: number): Promise<void> {
  if (length === 0) return;
  const end = length === undefined ? undefined : length - 1; // createReadStream's end is inclusive
  for await (const chunk of createReadStream(path, { end })) hash.update(chunk as Buffer);
}

/** Lower-case hex sha256 of a whole file. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(hash, path);
  return hash.digest('hex');
}
