// Pre-tokenizers for byte-level BPE: the regex that splits text into words before merging,
// chosen by tokenizer.ggml.pre. The patterns are the ones in the models' tokenizer.json, with
// Python's `(?i:'s|...)` spelled out as case alternatives (JS has no inline flags).

const CONTRACTIONS_ANY_CASE = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const LLAMA3 = new RegExp(
  CONTRACTIONS_ANY_CASE +
    String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  'gu',
);

// Qwen2: as LLaMA 3 but digits one at a time.
const QWEN2 = new RegExp(
  CONTRACTIONS_ANY_CASE +
    String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  'gu',
);

const GPT2 = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

interface PreTokenizer { regex: RegExp; ignoreMerges: boolean }

// tokenizer.ggml.pre → pattern. ignoreMerges: a word that is a token is not merged (llama.cpp
// sets it for the LLaMA 3 family only).
const PRE_TOKENIZERS: Record<string, PreTokenizer> = {
  'default': { regex: GPT2, ignoreMerges: false },
  'gpt-2': { regex: GPT2, ignoreMerges: false },
  'llama3': { regex: LLAMA3, ignoreMerges: true },
  'llama-bpe': { regex: LLAMA3, ignoreMerges: true },
  'smaug-bpe': { regex: LLAMA3, ignoreMerges: false },
  'dbrx': { regex: LLAMA3, ignoreMerges: false },
  'qwen2': { regex: QWEN2, ignoreMerges: false },
};

export const KNOWN_PRE_TOKENIZERS = Object.keys(PRE_TOKENIZERS);

/** The pre-tokenizer for `pre` (absent: GPT-2's); throws for a name it does not know. */
export function preTokenizerFor(pre: string | undefined): PreTokenizer {
  const found = PRE_TOKENIZERS[pre ?? 'default'];
  if (!found) {
    throw new Error(`unknown tokenizer.ggml.pre '${pre}' (known: ${KNOWN_PRE_TOKENIZERS.join(', ')})`);
  }
  return found;
}

/** Splits text into words; text between matches (none with these patterns) is kept as words too. */
export function splitWords(text: string, regex: RegExp): string[] {
  const words: string[] = [];
  let last = 0;
  for (const m of text.matchAll(regex)) {
    if (m.index > last) words.push(text.slice(last, m.index));
    if (m[0].length > 0) words.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) words.push(text.slice(last));
  return words;
}
