// The GGUF format layer: read a header (and the data section into any buffer), open a file
// with typed accessors, write files. See format.ts for the layout.
export { GGUFError } from './errors.js';
export {
  GGUF_ALIGNMENT_KEY,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_ARRAY_DEPTH,
  GGUF_MAX_DIMS,
  GGUF_MAX_KEY_BYTES,
  GGUF_MAX_TENSOR_NAME_BYTES,
  type GGUFHeader,
  type GGUFTensorInfo,
} from './format.js';
export {
  GGUFValueType,
  gv,
  valueTypeName,
  valuesEqual,
  type GGUFArray,
  type GGUFArrayItems,
  type GGUFArrayItemsByType,
  type GGUFBigIntType,
  type GGUFNumberType,
  type GGUFValue,
} from './values.js';
export { parseGGUFHeader, readGGUFHeader, readTensorData } from './read.js';
export { GGUFFile, GGUFHeaderView } from './file.js';
export { encodeGGUFHeader, writeGGUF, type EncodedGGUFHeader, type GGUFWriteInput, type GGUFWriteTensor } from './write.js';
