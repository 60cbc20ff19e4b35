// Stop strings over streamed text.

/**
 * Holds back text that could still become a stop string, so a stop string never reaches the
 * client, and cuts the text where the first stop string begins.
 */
export class StopMatcher {
  private pending = '';
  stopped = false;
  constructor(private readonly stops: readonly string[]) {}

  push(piece: string): { emit: string; stopped: boolean } {
    if (this.stopped) return { emit: '', stopped: true };
    this.pending += piece;
    if (this.stops.length === 0) {
      const emit = this.pending;
      this.pending = '';
      return { emit, stopped: false };
    }
    let cut = -1;
    for (const s of this.stops) {
      const at = s ? this.pending.indexOf(s) : -1;
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const emit = this.pending.slice(0, cut);
      this.pending = '';
      this.stopped = true;
      return { emit, stopped: true };
    }
    // keep the longest suffix that is a prefix of some stop string
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.pending.length); n > hold; n--) {
        if (this.pending.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    const emit = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { emit, stopped: false };
  }

  flush(last: string): string {
    if (this.stopped) return '';
    const { emit, stopped } = this.push(last);
    if (stopped) return emit;
    const rest = this.pending;
    this.pending = '';
    return emit + rest;
  }
}
