// Which ONNX Runtime execution providers work here. onnxruntime-node's listSupportedBackends()
// only says which providers the build knows (its CUDA one is listed even with no CUDA libraries
// installed), so each listed provider is tried for real: a one-node model (MatMul 1×4 · 4×4)
// becomes a session with executionProviders: [name] and runs once.
//
// ORT quietly hands nodes an execution provider cannot take to its CPU provider, so a session
// "on webgpu" may really run on the CPU. The probe turns that off
// (session option `session.disable_cpu_ep_fallback` = "1"): session creation then fails with
// "…assigned to the default CPU EP, but fallback to CPU EP has been explicitly disabled…",
// and the provider is reported as loading but not taking the node.
//
// The probes run in a child process (probe-child.ts): a provider library that crashes while
// loading cannot take the host down, and the native libraries' log lines stay out of our output.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

export interface ProviderProbe {
  name: string;
  /** Listed by onnxruntime-node's listSupportedBackends(). */
  listed: boolean;
  /** Shipped inside the onnxruntime-node package (listSupportedBackends' `bundled`). */
  bundled?: boolean;
  /** A session on this provider alone was created and ran the probe node. */
  available: boolean;
  /** Why not, or how it went ("ran the probe node in 12 ms"). */
  detail: string;
}

export const PROBE_CHILD = fileURLToPath(new URL('./probe-child.js', import.meta.url));

/** Probes every provider onnxruntime-node lists, in a child process with a time limit. */
export async function probeProviders(options: { timeoutMs?: number } = {}): Promise<ProviderProbe[]> {
  try {
    const { stdout: out } = await promisify(execFile)(process.execPath, [PROBE_CHILD], {
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 4 << 20,
    });
    const line = out.trim().split('\n').at(-1) ?? '';
    return JSON.parse(line) as ProviderProbe[];
  } catch (err) {
    const e = err as { message: string; stderr?: string; signal?: string | null };
    const why = e.signal ? `the probe process ended by ${e.signal}` : (e.stderr?.trim().split('\n').at(-1) || e.message);
    // without a working ONNX Runtime no provider is available; the wasm backend still is
    return [{ name: 'cpu', listed: false, available: false, detail: `onnxruntime-node could not be probed: ${why}` }];
  }
}

let cachedProbe: Promise<ProviderProbe[]> | undefined;

/** probeProviders() once per process (the engine asks at every model load; providers do not come and go). */
export function probeProvidersCached(): Promise<ProviderProbe[]> {
  return (cachedProbe ??= probeProviders());
}
