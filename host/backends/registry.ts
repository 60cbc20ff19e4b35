// The backends wisp can run blocks on, by name: data the engine is given (host/engine/open.ts).
// Each entry loads its folder on first use, so a run that needs no ONNX never loads ONNX Runtime;
// adding a backend is a folder and a line here, and removing one breaks no other.
import type { BackendRegistry } from '../engine/backend.js';

export const BACKENDS: BackendRegistry = {
  wasm: async () => (await import('./wasm/backend.js')).wasmBackend,
  onnx: async () => (await import('./onnx/backend.js')).onnxBackend,
};
