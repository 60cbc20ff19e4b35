// A request's streamed text as reply chunks. Every chunk is one MQTT message with its JSON, socket
// write and PUBACK: ~5% of the service thread at 4 streams on a 110M model (docs/MEASUREMENTS.md
// "Batched decode"). With an interval, a request sends at most one chunk per interval:
// the first piece goes at once (time to first token is unchanged), later pieces wait, joined, until
// the interval has passed (a timer, so held text never waits for the next token) or the request ends.
export class ChunkStream {
  private pending = '';
  private lastSent = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  /** intervalMs 0: one chunk per piece of text, as it comes. */
  constructor(
    private readonly intervalMs: number,
    private readonly send: (text: string) => void,
  ) {}

  push(text: string): void {
    if (!text) return;
    this.pending += text;
    const wait = this.lastSent + this.intervalMs - performance.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Sends the held text now (the request ends: its chunks go before its final message). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.pending) return;
    const text = this.pending;
    this.pending = '';
    this.lastSent = performance.now();
    this.send(text);
  }
}
