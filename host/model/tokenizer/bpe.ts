// Byte-level BPE ('gpt2' vocabs: GPT-2, LLaMA 3, Qwen2, ...). Each pre-token's UTF-8 bytes are
// written in GPT-2's byte alphabet (every byte a printable character, ' ' → 'Ġ'), then the
// adjacent pair with the lowest merge rank is merged until none is left (ties: leftmost).

import { Heap } from './heap.js';
import type { TokenizerVocab } from './vocab.js';

/** GPT-2's byte → character table: printable Latin-1 bytes map to themselves, the rest to U+0100 and up. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : next++);
  return table;
})();

/** The inverse of BYTE_TO_CHAR, by UTF-16 code unit. */
export const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c.charCodeAt(0), b]));

const utf8 = new TextEncoder();

export function toByteLevel(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

interface Bigram { left: number; right: number; rank: number; size: number }

// Lowest rank first; equal ranks: the leftmost pair first.
const bigramOrder = (a: Bigram, b: Bigram) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left);

export class BpeEncoder {
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();

  /**
   * ignoreMerges: a pre-token that is itself a token is taken whole (LLaMA 3 does this).
   * Like llama.cpp, any token of any type can be looked up, and of two tokens with the same text
   * the later id wins.
   */
  constructor(vocab: TokenizerVocab, private readonly ignoreMerges: boolean) {
    vocab.tokens.forEach((t, id) => this.ids.set(t, id));
    (vocab.merges ?? []).forEach((m, rank) => {
      if (!this.ranks.has(m)) this.ranks.set(m, rank);
    });
  }

  /** Appends the ids of one pre-token, already in the byte alphabet, to `out`. */
  encodeWord(word: string, out: number[]): void {
    const whole = this.ids.get(word);
    if (whole !== undefined && (this.ignoreMerges || word.length === 1)) {
      out.push(whole);
      return;
    }
    const n = word.length; // byte-alphabet characters are single UTF-16 units
    const start = new Int32Array(n), end = new Int32Array(n), prev = new Int32Array(n), next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      start[i] = i; end[i] = i + 1; prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1;
    }
    const agenda = new Heap<Bigram>(bigramOrder);
    const tryPair = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const rank = this.ranks.get(`${word.slice(start[left], end[left])} ${word.slice(start[right], end[right])}`);
      if (rank !== undefined) agenda.push({ left, right, rank, size: end[right] - start[left] });
    };

    for (let i = 1; i < n; i++) tryPair(i - 1, i);
    for (let top = agenda.pop(); top; top = agenda.pop()) {
      const { left, right } = top;
      // Skip pairs made stale by an earlier merge: one side is gone, or has grown since.
      if (end[left] === start[left] || end[right] === start[right]) continue;
      if (end[right] - start[left] !== top.size) continue;
      end[left] = end[right];
      end[right] = start[right];
      next[left] = next[right];
      if (next[right] >= 0) prev[next[right]] = left;
      tryPair(prev[left], left);
      tryPair(left, next[left]);
    }

    for (let i = 0; i >= 0; i = next[i]) this.emit(word.slice(start[i], end[i]), out);
  }

  private emit(piece: string, out: number[]): void {
    const id = this.ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    // Only happens with a vocab whose merges make pieces it lacks. llama.cpp then looks up each
    // UTF-8 byte of the piece as a one-byte token, which only ASCII characters can be.
    for (const c of piece) {
      const single = c.charCodeAt(0) < 0x80 ? this.ids.get(c) : undefined;
      if (single !== undefined) out.push(single);
    }
  }
}
