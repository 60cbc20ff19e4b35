// Top-1 agreement of two engines, teacher-forced: both read the same tokens; the share of steps
// whose argmax agrees. Either engine's forward may be synchronous or return a promise.
import type { TokenModel } from '../../host/engine/generate.js';
import { argmax } from '../../host/engine/sampler.js';

export async function agreement(a: TokenModel<unknown>, b: TokenModel<unknown>, tokens: number[]): Promise<number> {
  const sa = a.newState(tokens.length);
  const sb = b.newState(tokens.length);
  let same = 0;
  for (let pos = 0; pos < tokens.length; pos++) {
    if (argmax(await a.forward(sa, tokens[pos], pos)) === argmax(await b.forward(sb, tokens[pos], pos))) same++;
  }
  a.releaseState?.(sa);
  b.releaseState?.(sb);
  return same / tokens.length;
}
