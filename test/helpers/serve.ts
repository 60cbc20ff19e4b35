// `wisp serve` as a child process, the way a user starts it: wait for its banner, read its output,
// stop it with a signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, MODELS_DIR } from './paths.js';

export interface Served {
  proc: ChildProcess;
  /** stdout and stderr so far */
  out(): string;
  err(): string;
  /** Resolves with the exit code (or the signal) once the process ends. */
  exited: Promise<number | string | null>;
  /** The banner's broker URL (mqtt://127.0.0.1:port). */
  url: string;
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/** Starts `wisp serve ARGS`; resolves once the banner is out, or with the process ended (url ''). */
export async function startServe(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Served> {
  const proc = spawn(process.execPath, [CLI, 'serve', ...args], {
    env: { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '', WISP_LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  let ended = false;
  void exited.then(() => (ended = true));
  const t0 = Date.now();
  while (!ended && !out.includes('Stop with Ctrl-C') && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 50));
  const port = /listening on mqtts?:\/\/[^:]+:(\d+)/.exec(out)?.[1];
  return {
    proc,
    out: () => out,
    err: () => err,
    exited,
    url: port ? `mqtt://127.0.0.1:${port}` : '',
    stop: async (signal = 'SIGTERM') => {
      if (!ended) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs the CLI to the end without blocking this process's event loop. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, opts: { timeoutMs?: number; onStart?(p: ChildProcess): void } = {}): Promise<{ code: number | string | null; out: string; err: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '', ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    opts.onStart?.(p);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, out, err, ms: Date.now() - t0 });
    });
  });
}
