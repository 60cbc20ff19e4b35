// The forward pass on one backend for every block, as the backend tests open it.
import { BACKENDS } from '../../host/backends/registry.js';
import type { WasmBackend, WasmOptions } from '../../host/backends/wasm/backend.js';
import type { OnnxOptions } from '../../host/backends/onnx/backend.js';
import type { Target } from '../../host/engine/backend.js';
import { ForwardPass, type ForwardOptions } from '../../host/engine/forward.js';
import { uniformTargets } from '../../host/engine/placement.js';
import type { LlamaConfig } from '../../host/model/llama/config.js';
import { ModelFile } from '../../host/model/model-file.js';

type Sizes = Pick<ForwardOptions, 'contextSize' | 'maxSequences' | 'maxRows' | 'log'>;

/** Every block on the wasm kernels. */
export function openWasm(path: string, opts: Sizes & WasmOptions = {}): Promise<ForwardPass> {
  const { contextSize, maxSequences, maxRows, log, ...wasm } = opts;
  const file = ModelFile.open(path);
  return ForwardPass.open(file, uniformTargets(file.config.nLayers, [{ backend: 'wasm' }]), BACKENDS, { contextSize, maxSequences, maxRows, log, backends: { wasm } });
}

/** The wasm backend of an engine: its pool, arena, file and weights. */
export function wasmOf(engine: ForwardPass): WasmBackend {
  return engine.backend('wasm') as WasmBackend;
}

/** Every block on ONNX Runtime (fused into one session by default), on `providers` (default cpu); `config` replaces the file's metadata. */
export function openOnnx(path: string, opts: Sizes & OnnxOptions & { config?: LlamaConfig; providers?: string[] } = {}): Promise<ForwardPass> {
  const { contextSize, maxSequences, maxRows, log, config, providers, ...onnx } = opts;
  const file = ModelFile.open(path, { config });
  const targets: Target[] = (providers ?? ['cpu']).map((name) => ({ backend: 'onnx', variant: { name } }));
  return ForwardPass.open(file, uniformTargets(file.config.nLayers, targets), BACKENDS, { contextSize, maxSequences, maxRows, log, backends: { onnx } });
}
