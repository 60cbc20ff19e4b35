// ONNX Runtime sessions on a provider list with fallback. Each provider is tried in order; the
// first that can run the whole graph wins. A non-CPU provider runs with ORT's CPU fallback turned
// off (session.disable_cpu_ep_fallback), so "runs on cuda" means every node runs there: a provider
// that cannot take a node fails the session and the next provider is tried.
import { InferenceSession, env, listSupportedBackends } from 'onnxruntime-node';
import onnxProto from 'onnx-proto';

export interface ProviderSpec {
  /** An ONNX Runtime execution provider name: cpu, cuda, tensorrt, webgpu, qnn, coreml, dml, xnnpack... */
  name: string;
  /** Provider options, passed through to ORT (e.g. { deviceId: 0 }). */
  options?: Record<string, unknown>;
}

export interface OpenedSession {
  session: InferenceSession;
  /** The provider the whole graph runs on. */
  provider: string;
}

export interface SessionSettings {
  /** Intra-op threads (default: ORT's, one per core). */
  threads?: number;
  /** Let the intra-op threads spin between runs (ORT's default; default here false: only for a model that is one session). */
  spin?: boolean;
  /** What the session is for, in messages: 'attention block 3'. */
  what?: string;
}

/** No provider on the list could open the graph; the message has every provider's reason. */
export class NoProviderError extends Error {
  readonly code = 'onnx_no_provider';
  constructor(
    what: string,
    readonly reasons: ReadonlyArray<{ provider: string; reason: string }>,
  ) {
    super(
      reasons.length === 0
        ? `no ONNX Runtime execution provider was given for ${what}`
        : `no ONNX Runtime execution provider could run ${what}: ${reasons.map((r) => `${r.provider}: ${r.reason}`).join('; ')}`,
    );
  }
}

// ORT's own logger prints provider load failures to stderr; wisp reports them once through `log`.
if (!process.env.WISP_DEBUG) env.logLevel = 'fatal';

/** Providers found unusable in this process (a probe graph failed), with the reason. */
const unavailable = new Map<string, string>();
/** Providers that opened a probe graph in this process. */
const available = new Set<string>();
/** Providers whose skip reason this process has logged (once each). */
const skipLogged = new Set<string>();

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').find((l) => l.trim())?.trim() ?? text;
}

function sessionOptions(p: ProviderSpec, settings: SessionSettings): InferenceSession.SessionOptions {
  const ep = p.options ? { ...p.options, name: p.name } : p.name;
  return {
    executionProviders: [ep as InferenceSession.ExecutionProviderConfig],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(settings.threads ? { intraOpNumThreads: settings.threads, interOpNumThreads: 1 } : {}),
    extra: { session: { ...(settings.spin ? {} : { 'intra_op.allow_spinning': '0' }), ...(p.name === 'cpu' ? {} : { disable_cpu_ep_fallback: '1' }) } },
  };
}

/** A one-node graph (Relu on 4 floats): can the provider be created at all? */
let probeModel: Uint8Array | undefined;
function probe(): Uint8Array {
  if (!probeModel) {
    const { onnx } = onnxProto;
    const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } } });
    probeModel = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'probe', node: [{ opType: 'Relu', input: ['x'], output: ['y'] }], input: [vi('x')], output: [vi('y')] },
    }).finish();
  }
  return probeModel;
}

/** Why the provider cannot be used at all in this process, or undefined when it can. */
async function providerProblem(p: ProviderSpec): Promise<string | undefined> {
  const key = p.name;
  if (unavailable.has(key)) return unavailable.get(key);
  if (available.has(key)) return undefined;
  const backends = listSupportedBackends();
  let reason: string | undefined;
  if (!backends.some((b) => b.name === p.name)) {
    reason = `not an execution provider of this onnxruntime-node build (it has: ${backends.map((b) => (b.bundled ? b.name : `${b.name} (not bundled)`)).join(', ')})`;
  } else {
    try {
      const s = await InferenceSession.create(probe(), sessionOptions(p, {}));
      await s.release();
    } catch (err) {
      reason = firstLine(err);
    }
  }
  if (reason === undefined) available.add(key);
  else unavailable.set(key, reason);
  return reason;
}

/**
 * Opens `model` on the first provider of the list that can run all of it. A skipped provider's
 * reason is logged once per provider per process; if none can, throws NoProviderError.
 */
export async function openSession(model: Uint8Array, providers: readonly ProviderSpec[], log: (msg: string) => void = () => {}, settings: SessionSettings = {}): Promise<OpenedSession> {
  const what = settings.what ?? 'the graph';
  const reasons: Array<{ provider: string; reason: string }> = [];
  for (const p of providers) {
    let reason = await providerProblem(p);
    if (reason === undefined) {
      try {
        return { session: await InferenceSession.create(model, sessionOptions(p, settings)), provider: p.name };
      } catch (err) {
        reason = `cannot run ${what}: ${firstLine(err)}`;
      }
    }
    reasons.push({ provider: p.name, reason });
    if (!skipLogged.has(p.name)) {
      skipLogged.add(p.name);
      log(`onnx: execution provider '${p.name}' skipped: ${reason}`);
    }
  }
  throw new NoProviderError(what, reasons);
}

