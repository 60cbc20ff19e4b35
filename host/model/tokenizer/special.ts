// Splitting text at special tokens, as llama.cpp's tokenizer_st_partition does: user-defined
// tokens always, control and unknown tokens (e.g. "<s>", "<|eot_id|>") only when the caller
// asks to parse special tokens. Longer tokens are split out first, over the whole text.

import { TOKEN_TYPE } from './vocab.js';

export type Fragment = string | { id: number };

export interface SpecialTokens {
  always: Array<[text: string, id: number]>;     // user-defined
  onRequest: Array<[text: string, id: number]>;  // control + unknown, and user-defined; longest first
}

export function collectSpecialTokens(tokens: readonly string[], types: Int32Array): SpecialTokens {
  const always: Array<[string, number]> = [];
  const onRequest: Array<[string, number]> = [];
  tokens.forEach((text, id) => {
    if (text.length === 0) return; // an empty token cannot be found in text
    const type = types[id];
    if (type === TOKEN_TYPE.USER_DEFINED) always.push([text, id]);
    if (type === TOKEN_TYPE.USER_DEFINED || type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN) {
      onRequest.push([text, id]);
    }
  });
  const longestFirst = (a: [string, number], b: [string, number]) => b[0].length - a[0].length || a[1] - b[1];
  return { always: always.sort(longestFirst), onRequest: onRequest.sort(longestFirst) };
}

/** Splits `text` into raw-text fragments and special-token ids, in order. Empty text → []. */
export function partition(text: string, specials: Array<[string, number]>): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [text] : [];
  for (const [needle, id] of specials) {
    if (!text.includes(needle)) continue;
    fragments = fragments.flatMap((f) => (typeof f === 'string' ? splitAt(f, needle, id) : [f]));
  }
  return fragments;
}

function splitAt(text: string, needle: string, id: number): Fragment[] {
  const out: Fragment[] = [];
  let from = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, from)) {
    if (at > from) out.push(text.slice(from, at));
    out.push({ id });
    from = at + needle.length;
  }
  if (from < text.length) out.push(text.slice(from));
  return out;
}
