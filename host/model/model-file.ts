// A GGUF model opened once for every engine and backend that runs it: the header and the config
// are parsed at open; the data section is read from disk once, on first use, straight into the
// memory of the first backend that asks with an allocator (the wasm arena), or into a plain buffer.
import { GGUFFile, GGUFHeaderView, readTensorData } from './gguf/index.js';
import { configFromGGUF, type LlamaConfig } from './llama/config.js';

export class ModelFile {
  private file?: GGUFFile;
  private owned = false;

  private constructor(
    readonly header: GGUFHeaderView,
    readonly config: LlamaConfig,
  ) {}

  /** Reads the header and the config (or takes `config` in place of the metadata's: tests with hand-made files). */
  static open(path: string, opts: { config?: LlamaConfig } = {}): ModelFile {
    const header = GGUFHeaderView.read(path);
    return new ModelFile(header, opts.config ?? configFromGGUF(header));
  }

  get path(): string {
    return this.header.path;
  }

  /** general.name, else the path. */
  get name(): string {
    return this.header.optString('general.name') ?? this.path;
  }

  /**
   * The file with its data section. The first call reads it from disk into allocate(byteLength), or a
   * new buffer; later calls get the same file, except that a call with an allocator after a read into
   * a plain buffer gets the bytes copied into its memory (once), not read again.
   */
  data(allocate?: (byteLength: number) => Uint8Array): GGUFFile {
    const h = this.header.header;
    if (this.file && (!allocate || this.owned)) return this.file;
    const dest = allocate ? allocate(h.dataByteLength) : new Uint8Array(h.dataByteLength);
    if (this.file) dest.set(this.file.data);
    else readTensorData(this.path, h, dest);
    this.file = new GGUFFile(this.path, h, dest.subarray(0, h.dataByteLength));
    this.owned = allocate !== undefined;
    return this.file;
  }
}
