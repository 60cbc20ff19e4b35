// SentencePiece BPE ('llama' vocabs), as SentencePiece's bpe_model and llama.cpp's
// llm_tokenizer_spm do it: split the text into characters, repeatedly merge the adjacent pair
// whose concatenation is a piece with the highest score (ties: leftmost), then write each
// remaining symbol as its piece id, or as byte tokens <0xNN> when it is not a piece.

import { Heap } from './heap.js';
import { TOKEN_TYPE, type TokenizerVocab } from './vocab.js';

const SPACE_SYMBOL = '\u2581'; // '▁', SentencePiece's visible space
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

interface Bigram { left: number; right: number; score: number; size: number }

// Highest score first; equal scores: the leftmost pair first.
const bigramOrder = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);

export class SpmEncoder {
  // Pieces that merges may produce and symbols may be looked up as. Like SentencePiece, control,
  // unknown and byte pieces are excluded (so the text "<s>" stays text). Unused pieces are excluded
  // too: SentencePiece merges through them and splits them again, which is the same except in
  // contrived vocabs.
  private readonly pieces = new Map<string, number>();
  private readonly scores: Float32Array;
  private readonly byteIds: Int32Array; // byte value → id of its <0xNN> token, or -1
  private readonly unkId: number;

  constructor(vocab: TokenizerVocab) {
    const { tokens, tokenTypes } = vocab;
    this.scores = vocab.scores ?? new Float32Array(tokens.length);
    this.byteIds = new Int32Array(256).fill(-1);
    this.unkId = vocab.unkId ?? -1;
    for (let id = 0; id < tokens.length; id++) {
      const type = tokenTypes?.[id] ?? TOKEN_TYPE.NORMAL;
      const byte = BYTE_TOKEN.exec(tokens[id]);
      if (byte && (type === TOKEN_TYPE.BYTE || !tokenTypes)) {
        this.byteIds[parseInt(byte[1], 16)] = id;
      } else if (type === TOKEN_TYPE.NORMAL || type === TOKEN_TYPE.USER_DEFINED) {
        if (!this.pieces.has(tokens[id])) this.pieces.set(tokens[id], id);
      }
    }
  }

  /** Appends the ids of one text fragment (raw text, no special tokens) to `out`. */
  encode(text: string, addSpacePrefix: boolean, out: number[]): void {
    const escaped = (addSpacePrefix ? SPACE_SYMBOL : '') + text.replaceAll(' ', SPACE_SYMBOL);
    if (escaped.length === 0) return;
    const symbols = new SymbolList(escaped);
    const agenda = new Heap<Bigram>(bigramOrder);
    const tryPair = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const id = this.pieces.get(symbols.text(left, right));
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
    const id = this.pieces.get(piece);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    // Byte fallback: the piece's UTF-8 bytes as <0xNN> tokens; <unk> when the vocab has none.
    const bytes = utf8.encode(piece);
    if (bytes.every((b) => this.byteIds[b] >= 0)) {
      for (const b of bytes) out.push(this.byteIds[b]);
    } else if (this.unkId >= 0) {
      out.push(this.unkId);
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
