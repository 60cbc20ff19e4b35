// The provider probe (see probe.ts), run as its own process: prints one JSON line, ProviderProbe[].
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { ProviderProbe } from './probe.js';

const require = createRequire(import.meta.url);

// what onnxruntime-node says when the fallback is off and a node would land on the CPU provider
const CPU_FALLBACK = /fallback to CPU EP has been explicitly disabled/i;

/** A one-node ONNX model: y[1,4] = x[1,4] · w[4,4] (w an initializer). */
export function probeModel(): Uint8Array {
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'wisp-provider-probe',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'probe',
      node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'], name: 'probe_matmul' }],
      initializer: [{ name: 'w', dataType: FLOAT, dims: [4, 4], floatData: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] }],
      input: [info('x', [1, 4])],
      output: [info('y', [1, 4])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function firstLine(message: string): string {
  // ORT messages carry source paths and long tails; the first sentence says enough
  const line = message.split('\n').find((l) => l.trim()) ?? message;
  // e.g. "/onnxruntime_src/…/webgpu_context.cc:136 onnxruntime::…::<lambda()> adapter_result.status == … was false. Failed to get a WebGPU adapter: …"
  return line.replace(/^\/onnxruntime_src\/\S+\s+/, '').replace(/^\S*::\S*\s.*? was false\.\s+/, '').slice(0, 240);
}

type Ort = typeof import('onnxruntime-node');

/**
 * Tries one provider: a session on it alone, with ORT's CPU fallback off unless `cpuFallback`
 * (the probe of the CPU provider itself needs it on), then one run checked against the answer.
 */
export async function probeOne(ort: Ort, model: Uint8Array, name: string, cpuFallback = name === 'cpu'): Promise<{ available: boolean; detail: string }> {
  const t0 = performance.now();
  try {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: [name],
      logSeverityLevel: 4,
      ...(cpuFallback ? {} : { extra: { 'session.disable_cpu_ep_fallback': '1' } }),
    });
    try {
      const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]);
      const y = Array.from((await session.run({ x })).y.data as Float32Array).join();
      if (y !== '1,2,3,4') throw new Error(`the probe node computed ${y} instead of 1,2,3,4`);
    } finally {
      await session.release();
    }
    return { available: true, detail: `ran the probe node in ${Math.round(performance.now() - t0)} ms` };
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    return { available: false, detail: CPU_FALLBACK.test(msg) ? 'loads, but ORT assigned the probe node to its CPU provider (silent CPU fallback)' : firstLine(msg) };
  }
}

async function main(): Promise<void> {
  const ort = require('onnxruntime-node') as Ort;
  ort.env.logLevel = 'fatal';
  const model = probeModel();
  const results: ProviderProbe[] = [];
  for (const { name, bundled } of ort.listSupportedBackends()) {
    results.push({ name, listed: true, bundled, ...(await probeOne(ort, model, name)) });
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`provider probe failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
