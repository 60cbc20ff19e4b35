// SentencePiece BPE ('llama' vocabs), as llama.cpp's llm_tokenizer_spm does it: split the text
// into characters, repeatedly merge the adjacent pair whose concatenation is a token with the
// highest score (ties: leftmost), then write each remaining symbol as its token id, or as byte
// tokens <0xNN> when it is not a token.
//
// Where llama.cpp and the SentencePiece library differ, this follows llama.cpp: every token can be
// merged into and looked up, whatever its type (so raw text "<s>" may become the control token if
// the merges reach it), and of two tokens with the same text the later id wins.

import { Heap } from './heap.js';
import type { TokenizerVocab } from './vocab.js';

const SPACE_SYMBOL = '\u2581'; // '▁', SentencePiece's visible space
const HEX = '0123456789ABCDEF';
const utf8 = new TextEncoder();

interface Bigram { left: number; right: number; score: number; size: number }

// Highest score first; equal scores: the leftmost pair first.
const bigramOrder = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

export class SpmEncoder {
  private readonly ids = new Map<string, number>();
  private readonly scores: Float32Array;
  private readonly byteIds: Int32Array; // byte value → the token llama.cpp's byte_to_token gives, or -1
  private readonly unkId: number;

  constructor(vocab: TokenizerVocab) {
    const { tokens } = vocab;
    this.scores = vocab.scores ?? new Float32Array(tokens.length);
    tokens.forEach((t, id) => this.ids.set(t, id));
    this.unkId = vocab.unkId ?? -1;
    // "<0xNN>" (upper-case hex), else the byte itself as a one-character token
    this.byteIds = Int32Array.from({ length: 256 }, (_, b) =>
      this.ids.get(`<0x${HEX[b >> 4]}${HEX[b & 15]}>`) ?? (b < 0x80 ? this.ids.get(String.fromCharCode(b)) : undefined) ?? -1);
  }

  /** Appends the ids of one text fragment (raw text, no special tokens) to `out`. */
  encode(text: string, addSpacePrefix: boolean, out: number[]): void {
    const escaped = ((addSpacePrefix ? ' ' : '') + text).replaceAll(' ', SPACE_SYMBOL);
    if (escaped.length === 0) return;
    const symbols = new SymbolList(escaped);
    const agenda = new Heap<Bigram>(bigramOrder);
    const tryPair = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const id = this.ids.get(symbols.text(left, right));
      if (id === undefined) return;
      agenda.push({ left, right, score: this.scores[id], size: symbols.end[right] - symbols.start[left] });
    };

    for (let i = 1; i < symbols.count; i++) tryPair(i - 1, i);
    for (let top = agenda.pop(); top; top = agenda.pop()) {
      // Skip pairs made stale by an earlier merge: one side is gone, or has grown since.
      if (!symbols.alive(top.left) || !symbols.alive(top.right)) continue;
      if (symbols.end[top.right] - symbols.start[top.left] !== top.size) continue;
      symbols.mergeWithNext(top.left);
      tryPair(symbols.prev[top.left], top.left);
      tryPair(top.left, symbols.next[top.left]);
    }

    for (let i = 0; i >= 0; i = symbols.next[i]) this.emit(symbols.text(i, i), out);
  }

  private emit(piece: string, out: number[]): void {
    const id = this.ids.get(piece);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    // Byte fallback: the piece's UTF-8 bytes as byte tokens; <unk> for a byte the vocab lacks
    // (llama.cpp cannot tokenize such text at all).
    for (const b of utf8.encode(piece)) {
      const byteId = this.byteIds[b] >= 0 ? this.byteIds[b] : this.unkId;
      if (byteId >= 0) out.push(byteId);
    }
  }
}

/** The characters of a string as a doubly linked list of [start, end) spans that merge. */
class SymbolList {
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly prev: Int32Array;
  readonly next: Int32Array;
  readonly count: number;

  constructor(private readonly s: string) {
    const n = s.length; // an upper bound on the number of code points
    this.start = new Int32Array(n);
    this.end = new Int32Array(n);
    this.prev = new Int32Array(n);
    this.next = new Int32Array(n);
    let count = 0;
    for (let i = 0; i < n; count++) {
      const width = (s.codePointAt(i) as number) > 0xffff ? 2 : 1;
      this.start[count] = i;
      this.end[count] = i + width;
      this.prev[count] = count - 1;
      this.next[count] = count + 1;
      i += width;
    }
    this.next[count - 1] = -1;
    this.count = count;
  }

  text(first: number, last: number): string {
    return this.s.slice(this.start[first], this.end[last]);
  }

  alive(i: number): boolean {
    return this.end[i] > this.start[i];
  }

  /** Absorbs the symbol after `i` into `i`; the absorbed one becomes empty. */
  mergeWithNext(i: number): void {
    const j = this.next[i];
    this.end[i] = this.end[j];
    this.end[j] = this.start[j];
    this.next[i] = this.next[j];
    if (this.next[j] >= 0) this.prev[this.next[j]] = i;
  }
}
