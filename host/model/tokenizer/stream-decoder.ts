// Token ids → text, one id at a time. A token can end in the middle of a UTF-8 character
// (byte-fallback tokens, byte-level BPE pieces): those bytes are held back until the character
// is complete, so a client never sees half a character or a stray U+FFFD.

export interface StreamDecoder {
  /** The text that became complete with this token (often '', sometimes several characters). */
  push(id: number): string;
  /** Whatever is held back, with incomplete or invalid bytes as U+FFFD; the decoder stays usable. */
  flush(): string;
}

/**
 * Strips the one space that SentencePiece's space prefix put in front of the first word: the first
 * piece that has any bytes loses a leading 0x20. Feed it the bytes of each token in order.
 */
export class LeadingSpaceStripper {
  private atStart: boolean;

  constructor(enabled: boolean) {
    this.atStart = enabled;
  }

  next(piece: Uint8Array): Uint8Array {
    if (!this.atStart || piece.length === 0) return piece;
    this.atStart = false;
    return piece[0] === 0x20 ? piece.subarray(1) : piece;
  }
}

/** A fresh UTF-8 decoder that keeps a leading U+FEFF (it is text, not a byte order mark here). */
export function utf8Decoder(): TextDecoder {
  return new TextDecoder('utf-8', { ignoreBOM: true });
}

export function createStreamDecoder(pieceBytes: (id: number) => Uint8Array, stripLeadingSpace: boolean): StreamDecoder {
  const decoder = utf8Decoder();
  const stripper = new LeadingSpaceStripper(stripLeadingSpace);
  return {
    // TextDecoder's stream mode keeps an incomplete trailing sequence for the next call and
    // replaces invalid bytes exactly as a one-shot decode of all the bytes would.
    push: (id) => decoder.decode(stripper.next(pieceBytes(id)), { stream: true }),
    flush: () => decoder.decode(),
  };
}
