// `wisp quantize`: re-encode a GGUF model's weight matrices in another type (the 1-D norms stay
// f32, a row the type's blocks cannot tile falls back as in synth), streaming one tensor at a time.
import { GGMLType } from './ggml-types.js';
import { GGUFFile, gv, writeGGUF, type GGUFWriteTensor } from './gguf/index.js';
import { quantize } from './quantize/index.js';
import { LLAMA_FILE_TYPE, storageType } from './synth.js';

export function quantizeModel(inPath: string, outPath: string, type: GGMLType, onProgress?: (done: number, total: number) => void): { tensors: number; changed: number } {
  const file = GGUFFile.open(inPath);
  const metadata = new Map(file.metadata);
  const fileType = LLAMA_FILE_TYPE[type];
  if (fileType !== undefined) metadata.set('general.file_type', gv.u32(fileType));
  metadata.set('general.quantized_by', gv.str('wisp quantize'));
  let changed = 0;
  const tensors: GGUFWriteTensor[] = file.tensors.map((t) => {
    const target = t.dims.length === 2 ? storageType(type, t.dims) : t.type;
    if (target === t.type) return { name: t.name, dims: t.dims, type: t.type, data: () => file.tensorBytes(t.name) };
    changed++;
    return {
      name: t.name,
      dims: t.dims,
      type: target,
      data: () => {
        const values = file.tensorF32(t.name);
        return target === GGMLType.F32 ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : quantize(target, values, t.dims[0]);
      },
    };
  });
  writeGGUF(outPath, { version: 3, metadata, tensors }, onProgress);
  return { tensors: tensors.length, changed };
}
