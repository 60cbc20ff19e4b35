// The one error type of the GGUF layer: every malformed file, bad argument or missing key ends
// here, with a message that names the field (and the byte offset when there is one).

export class GGUFError extends Error {
  /** What was wrong, as a path into the file: 'magic', 'tensor_count', "metadata['general.alignment']", 'tensors[3].offset' ... */
  readonly field: string;
  /** Byte offset in the file where the field starts, when the error is about the file's bytes. */
  readonly offset?: number;

  constructor(field: string, message: string, offset?: number) {
    super(message.startsWith('GGUF: ') ? message : `GGUF: ${message}`);
    this.name = 'GGUFError';
    this.field = field;
    if (offset !== undefined) this.offset = offset;
  }
}

