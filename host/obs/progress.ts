// Progress for long work (pull, convert, synth, quantize, bench): a cli-progress bar on a terminal,
// one plain line per 10% otherwise, so CI logs stay readable.
import { SingleBar } from 'cli-progress';

/** 1185376 -> "1.2 MB" (decimal units, like download tools). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

export interface Progress {
  /** Begins the clock; `done` is work already complete (a resumed download's bytes). */
  start(done?: number): void;
  update(done: number): void;
  stop(): void;
}

export interface ProgressStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
}

export const NO_PROGRESS: Progress = { start() {}, update() {}, stop() {} };

/** Bytes per second since `startedAt`, counting only what this run did. */
function speedOf(done: number, from: number, startedAt: number): string {
  const secs = (performance.now() - startedAt) / 1000;
  return secs > 0 ? `${formatBytes(Math.round((done - from) / secs))}/s` : '-';
}

export function createProgress(label: string, total: number, stream: ProgressStream = process.stderr): Progress {
  return stream.isTTY ? barProgress(label, total, stream) : lineProgress(label, total, stream);
}

function barProgress(label: string, total: number, stream: ProgressStream): Progress {
  const bar = new SingleBar({
    stream: stream as NodeJS.WritableStream,
    format: `${label} {bar} {percentage}% | {got} of {size} | {speed} | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 100,
  });
  let from = 0;
  let startedAt = performance.now();
  let running = false;
  const payload = (done: number) => ({ got: formatBytes(done), size: formatBytes(total), speed: speedOf(done, from, startedAt) });
  return {
    start(done = 0) {
      from = done;
      startedAt = performance.now();
      running = true;
      bar.start(total, done, payload(done));
    },
    update(done) {
      if (!running) this.start(0);
      bar.update(done, payload(done));
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}

function lineProgress(label: string, total: number, stream: ProgressStream): Progress {
  let from = 0;
  let startedAt = performance.now();
  let lastTenth = 0;
  return {
    start(done = 0) {
      from = done;
      startedAt = performance.now();
      lastTenth = total > 0 ? Math.floor((done * 10) / total) : 0;
    },
    update(done) {
      const tenth = total > 0 ? Math.floor((done * 10) / total) : 10;
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      stream.write(`${label}: ${tenth * 10}% (${formatBytes(done)} of ${formatBytes(total)}, ${speedOf(done, from, startedAt)})\n`);
    },
    stop() {},
  };
}

/** `createProgress(...)` already started, for callers that learn the total with the first update. */
export function started(p: Progress): Progress {
  p.start(0);
  return p;
}

/** Progress through a known number of steps (a benchmark's measurements): which step runs now. */
export interface StepProgress {
  /** Starts the next step, named `what`. */
  step(what: string): void;
  stop(): void;
}

/** A cli-progress bar with the step's name on a terminal; one line per step otherwise. */
export function createStepProgress(label: string, total: number, stream: ProgressStream = process.stderr): StepProgress {
  let done = 0;
  if (!stream.isTTY) {
    return {
      step(what) {
        done++;
        stream.write(`${label} [${done}/${total}] ${what}\n`);
      },
      stop() {},
    };
  }
  const bar = new SingleBar({ stream: stream as NodeJS.WritableStream, format: `${label} {bar} {value}/{total} | {what}`, hideCursor: true });
  bar.start(total, 0, { what: '' });
  return {
    step(what) {
      // the bar counts steps finished: the one starting now is not yet
      bar.update(done++, { what });
    },
    stop() {
      bar.update(total, { what: 'done' });
      bar.stop();
    },
  };
}
