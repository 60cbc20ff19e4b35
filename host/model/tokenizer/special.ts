// Special tokens as llama.cpp (llama-vocab.cpp) treats them: each token's attributes (from its
// GGUF type, then llama.cpp's by-text and by-model-name adjustments), and splitting text at
// special tokens (tokenizer_st_partition): user-defined tokens always, control and unknown tokens
// only when the caller parses special tokens; longer tokens first, over the whole text.

import { TOKEN_TYPE, type TokenizerVocab } from './vocab.js';

export const ATTR = {
  UNKNOWN: 1 << 0, UNUSED: 1 << 1, NORMAL: 1 << 2, CONTROL: 1 << 3, USER_DEFINED: 1 << 4, BYTE: 1 << 5,
  LSTRIP: 1 << 7, RSTRIP: 1 << 8,
} as const;

const ATTR_OF_TYPE: Record<number, number> = {
  [TOKEN_TYPE.NORMAL]: ATTR.NORMAL, [TOKEN_TYPE.UNKNOWN]: ATTR.UNKNOWN, [TOKEN_TYPE.CONTROL]: ATTR.CONTROL,
  [TOKEN_TYPE.USER_DEFINED]: ATTR.USER_DEFINED, [TOKEN_TYPE.UNUSED]: ATTR.UNUSED, [TOKEN_TYPE.BYTE]: ATTR.BYTE,
};

/** Texts llama.cpp takes as end of generation (and forces to control tokens; its EOT guesses are among them). */
export const EOG_TEXTS = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>',
  '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
]);

// Fill-in-the-middle markers llama.cpp finds by text; the first of each kind becomes a control
// token, and the pad / repo / file-separator ones end generation too.
const FIM_TEXTS = {
  pre: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  suf: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  mid: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  sep: ['<|file_sep|>'],
};

export interface SpecialTokenInfo {
  attrs: Int32Array;
  /** Control, user-defined and unknown tokens, by UTF-8 length, longest first (llama.cpp's cache_special_tokens). */
  specials: number[];
  eog: Set<number>;
}

const utf8 = new TextEncoder();

export function specialTokenInfo(v: TokenizerVocab, types: Int32Array): SpecialTokenInfo {
  const n = v.tokens.length;
  const attrs = Int32Array.from(types, (t) => ATTR_OF_TYPE[t] ?? 0);
  const idOf = new Map<string, number>();
  v.tokens.forEach((t, id) => idOf.set(t, id)); // the later id wins, as in llama.cpp's token_to_id
  const forceControl = (id: number) => (attrs[id] |= ATTR.CONTROL);
  const firstOf = (texts: string[]) => texts.map((t) => idOf.get(t)).find((id) => id !== undefined);

  const eog = new Set<number>();
  for (const kind of ['pre', 'suf', 'mid', 'pad', 'rep', 'sep'] as const) {
    const id = firstOf(FIM_TEXTS[kind]);
    if (id === undefined) continue;
    forceControl(id);
    if (kind === 'pad' || kind === 'rep' || kind === 'sep') eog.add(id);
  }
  for (const [text, id] of idOf) {
    if (EOG_TEXTS.has(text)) {
      eog.add(id);
      forceControl(id);
    }
    // gpt-oss: these are always rendered
    if (text === '<|channel|>' || text === '<|message|>' || text === '<|start|>' || text === '<|constrain|>') attrs[id] = ATTR.USER_DEFINED;
  }
  for (const id of [v.eosId, v.eotId]) if (id !== undefined) eog.add(id);

  const specials: number[] = [];
  for (let id = 0; id < n; id++) if (attrs[id] & (ATTR.CONTROL | ATTR.USER_DEFINED | ATTR.UNKNOWN)) specials.push(id);
  const bytes = specials.map((id) => utf8.encode(v.tokens[id]).length);
  const order = specials.map((id, i) => [id, bytes[i]]).sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  specials.splice(0, specials.length, ...order.map(([id]) => id));

  // llama.cpp strips the whitespace after Phi-3's special tokens when general.name says phi-3
  const name = (v.name ?? '').toLowerCase();
  if (name.includes('phi-3') || name.includes('phi3')) {
    for (const id of specials) attrs[id] |= ATTR.RSTRIP;
    const set = (text: string, on: boolean) => {
      const id = idOf.get(text);
      if (id !== undefined) attrs[id] = on ? attrs[id] | ATTR.RSTRIP : attrs[id] & ~ATTR.RSTRIP;
    };
    set('</s>', true);
    for (const t of ['<unk>', '<s>', '<|endoftext|>']) set(t, false);
  }
  return { attrs, specials, eog };
}

export type Fragment = string | { id: number };

// C's isspace(): what lstrip/rstrip remove next to a special token
const isCSpace = (c: string) => c === ' ' || (c >= '\t' && c <= '\r');

/** Splits `text` into raw-text fragments and special-token ids, in order. Empty text → []. */
export function partition(text: string, v: TokenizerVocab, info: SpecialTokenInfo, parseSpecial: boolean): Fragment[] {
  let fragments: Fragment[] = text.length > 0 ? [text] : [];
  for (const id of info.specials) {
    const attr = info.attrs[id];
    if (!parseSpecial && attr & (ATTR.CONTROL | ATTR.UNKNOWN)) continue;
    const needle = v.tokens[id];
    if (needle.length === 0 || !text.includes(needle)) continue;
    fragments = fragments.flatMap((f) => (typeof f === 'string' ? splitAt(f, needle, id, attr) : [f]));
  }
  return fragments;
}

function splitAt(text: string, needle: string, id: number, attr: number): Fragment[] {
  const out: Fragment[] = [];
  let from = 0;
  for (let at = text.indexOf(needle, from); at >= 0; at = text.indexOf(needle, from)) {
    let leftEnd = at;
    if (attr & ATTR.LSTRIP) while (leftEnd > from && isCSpace(text[leftEnd - 1])) leftEnd--;
    if (leftEnd > from) out.push(text.slice(from, leftEnd));
    out.push({ id });
    from = at + needle.length;
    if (attr & ATTR.RSTRIP) while (from < text.length && isCSpace(text[from])) from++;
  }
  if (from < text.length) out.push(text.slice(from));
  return out;
}
