// Pre-tokenizers for byte-level BPE: how text is split into words before merging, chosen by
// tokenizer.ggml.pre exactly as llama.cpp (llama-vocab.cpp, unicode.cpp) does it. A pre-tokenizer
// is a list of regexes applied in turn: each one splits every piece the previous one made, and
// text between two matches stays a piece of its own.
//
// llama.cpp runs its regexes in two ways, and so do we:
//  - 'unicode': the patterns it has hand-written splitters for (GPT-2, LLaMA 3, Qwen2), whose
//    \p{L} / \p{N} / \s are the Unicode categories and White_Space. JS regexes with the u flag do
//    the same, once \s is spelled as White_Space (JS's \s also matches U+FEFF and not U+0085).
//  - 'collapsed': every other pattern goes through std::regex on a "collapsed" text in which each
//    non-ASCII code point is replaced by one byte standing for its category (letter, number, ...),
//    so a non-ASCII letter is neither upper nor lower case and marks are not letters. We run the
//    same pattern on the same collapsed text, so the quirks carry over.

/** Unicode White_Space, the set llama.cpp's splitters use for \s. */
const WS = String.raw`\t\n\v\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000`;

/** A pattern in tokenizer.json's syntax, made JS-compatible: \s and \S by White_Space. */
function unicodeRegex(pattern: string): RegExp {
  const js = pattern
    .replaceAll(String.raw`[^\s`, `[^${WS}`)
    .replaceAll(String.raw`\s`, `[${WS}]`)
    .replaceAll(String.raw`\S`, `[^${WS}]`);
  return new RegExp(js, 'gu');
}

const CONTRACTIONS_ANY_CASE = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const GPT2_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
const LLAMA3_PATTERN =
  CONTRACTIONS_ANY_CASE + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_PATTERN =
  CONTRACTIONS_ANY_CASE + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
// GPT-4o's pattern as llama.cpp adapted it for std::regex: upper/lower case letters by lookaheads.
const GPT4O_PATTERN =
  String.raw`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+` + CONTRACTIONS_ANY_CASE + '?' +
  String.raw`|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*` + CONTRACTIONS_ANY_CASE + '?' +
  String.raw`|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
// llama.cpp's pattern list for a BPE vocab whose pre-tokenizer is 'default'.
const DEFAULT_PATTERNS = [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2_PATTERN, String.raw`\p{N}+`, '[0-9][0-9][0-9]'];

// ---- collapsed text, as llama.cpp's unicode_regex_split builds it --------------------------------

const COLLAPSED = { number: '\xD1', letter: '\xD2', punctuation: '\xD3', mark: '\xD4', symbol: '\xD5', other: '\xD0', space: '\x0B' };
// What \p{X} becomes in a collapsed pattern: the category byte plus the ASCII members.
const COLLAPSED_CLASS: Record<string, string> = {
  N: COLLAPSED.number + '0-9',
  L: COLLAPSED.letter + 'A-Za-z',
  P: COLLAPSED.punctuation + String.raw`!-#%-*,-/:-;?-@\[-\]_\{\}`,
  M: COLLAPSED.mark,
  S: COLLAPSED.symbol + String.raw`\$\+<->^` + '`' + String.raw`\|~`,
};
const IS_WS = new RegExp(`^[${WS}]$`, 'u');

function collapseChar(c: string): string {
  if (c.length === 1 && c.charCodeAt(0) < 128) return c;
  if (IS_WS.test(c)) return COLLAPSED.space;
  if (/\p{L}/u.test(c)) return COLLAPSED.letter;
  if (/\p{N}/u.test(c)) return COLLAPSED.number;
  if (/\p{P}/u.test(c)) return COLLAPSED.punctuation;
  if (/\p{M}/u.test(c)) return COLLAPSED.mark;
  if (/\p{S}/u.test(c)) return COLLAPSED.symbol;
  return COLLAPSED.other;
}

/** A pattern with \p{X} replaced by its collapsed class (inside [...] too), for the collapsed text. */
function collapsedRegex(pattern: string): RegExp {
  let out = '';
  let inside = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && pattern[i + 1] === 'p' && pattern[i + 2] === '{') {
      const close = pattern.indexOf('}', i);
      const cls = COLLAPSED_CLASS[pattern.slice(i + 3, close)[0]];
      out += inside ? cls : `[${cls}]`;
      i = close;
      continue;
    }
    if (c === '\\') {
      out += c + pattern[++i];
      continue;
    }
    if (c === '[') inside = true;
    if (c === ']') inside = false;
    out += c;
  }
  // std::regex's \s on bytes: ASCII whitespace (VT stands for every non-ASCII space).
  return new RegExp(out, 'g');
}

// ---- splitting --------------------------------------------------------------------------------

/** Splits text (as code points) into pieces; `pieces` are code point lengths, summing to the text's. */
type Splitter = (codePoints: string[], pieces: number[]) => number[];

function regexSplitter(pattern: string, mode: 'unicode' | 'collapsed'): Splitter {
  const regex = mode === 'unicode' ? unicodeRegex(pattern) : collapsedRegex(pattern);
  return (cps, pieces) => {
    const out: number[] = [];
    let start = 0;
    for (const len of pieces) {
      const chunk = cps.slice(start, start + len);
      const text = mode === 'unicode' ? chunk.join('') : chunk.map(collapseChar).join('');
      // match positions in UTF-16 units → code points
      const unitToCp = mode === 'unicode' ? codePointIndex(chunk) : undefined;
      const cp = (unit: number) => (unitToCp ? unitToCp[unit] : unit);
      let last = 0;
      for (const m of text.matchAll(regex)) {
        if (m[0].length === 0) continue;
        const at = cp(m.index), end = cp(m.index + m[0].length);
        if (at > last) out.push(at - last);
        out.push(end - at);
        last = end;
      }
      if (last < len) out.push(len - last);
      start += len;
    }
    return out;
  };
}

/** UTF-16 unit offset → code point index, for a string given as its code points. */
function codePointIndex(cps: string[]): Int32Array {
  const n = cps.reduce((s, c) => s + c.length, 0);
  const map = new Int32Array(n + 1);
  let unit = 0;
  cps.forEach((c, i) => {
    map[unit] = i;
    if (c.length === 2) map[unit + 1] = i;
    unit += c.length;
  });
  map[n] = cps.length;
  return map;
}

export interface PreTokenizer {
  splitters: Splitter[];
  /** A word that is itself a token is taken whole, without merging (LLaMA 3 and a few others). */
  ignoreMerges: boolean;
  /** Whether llama.cpp adds BOS for this pre-tokenizer when the file does not say. */
  addsBos: boolean;
}

const unicode = (p: string) => regexSplitter(p, 'unicode');
const collapsed = (p: string) => regexSplitter(p, 'collapsed');

const GPT2: Splitter[] = [unicode(GPT2_PATTERN)];
const LLAMA3: Splitter[] = [unicode(LLAMA3_PATTERN)];
const QWEN2: Splitter[] = [unicode(QWEN2_PATTERN)];
// smollm, starcoder, refact, command-r, ...: every digit alone, then GPT-2's pattern.
const DIGITS_THEN_GPT2: Splitter[] = [collapsed(String.raw`\p{N}`), unicode(GPT2_PATTERN)];
const GPT4O: Splitter[] = [collapsed(GPT4O_PATTERN)];
const DEFAULT: Splitter[] = DEFAULT_PATTERNS.map((p) => (p === GPT2_PATTERN ? unicode(p) : collapsed(p)));

const pre = (splitters: Splitter[], ignoreMerges = false, addsBos = false): PreTokenizer => ({ splitters, ignoreMerges, addsBos });

// tokenizer.ggml.pre → pre-tokenizer, for the names llama.cpp maps to these patterns.
const PRE_TOKENIZERS: Record<string, PreTokenizer> = {
  'default': pre(DEFAULT),
  'gpt-2': pre(GPT2), 'phi-2': pre(GPT2), 'mpt': pre(GPT2), 'olmo': pre(GPT2), 'jais': pre(GPT2),
  'llama3': pre(LLAMA3, true, true), 'llama-v3': pre(LLAMA3, true, true), 'llama-bpe': pre(LLAMA3, true, true),
  'falcon3': pre(LLAMA3, true, true), 'falcon-h1': pre(LLAMA3, true, true), 'pixtral': pre(LLAMA3, true, true),
  'midm-2.0': pre(LLAMA3, true, true), 'lfm2': pre(LLAMA3, true, true),
  'smaug-bpe': pre(LLAMA3), 'dbrx': pre(LLAMA3),
  'qwen2': pre(QWEN2), 'deepseek-r1-qwen': pre(QWEN2), 'stablelm2': pre(QWEN2),
  'smollm': pre(DIGITS_THEN_GPT2), 'starcoder': pre(DIGITS_THEN_GPT2), 'refact': pre(DIGITS_THEN_GPT2),
  'command-r': pre(DIGITS_THEN_GPT2), 'codeshell': pre(DIGITS_THEN_GPT2), 'exaone': pre(DIGITS_THEN_GPT2),
  'minerva-7b': pre(DIGITS_THEN_GPT2),
  'gpt-4o': pre(GPT4O), 'llama4': pre(GPT4O),
};

export const KNOWN_PRE_TOKENIZERS = Object.keys(PRE_TOKENIZERS);

/** The pre-tokenizer for `pre` (absent: llama.cpp's 'default'); throws for a name it does not know. */
export function preTokenizerFor(name: string | undefined): PreTokenizer {
  const found = PRE_TOKENIZERS[name ?? 'default'];
  if (!found) {
    throw new Error(`unknown tokenizer.ggml.pre '${name}' (known: ${KNOWN_PRE_TOKENIZERS.join(', ')})`);
  }
  return found;
}

/** Whether llama.cpp adds BOS for a byte-level BPE vocab with this pre-tokenizer when the file does not say. */
export function preAddsBos(name: string | undefined): boolean {
  return PRE_TOKENIZERS[name ?? 'default']?.addsBos ?? false;
}

/** Splits text into words with a pre-tokenizer. */
export function splitWords(text: string, p: PreTokenizer): string[] {
  const cps = Array.from(text);
  let pieces = cps.length > 0 ? [cps.length] : [];
  for (const split of p.splitters) pieces = split(cps, pieces);
  const words: string[] = [];
  let start = 0;
  for (const len of pieces) {
    words.push(cps.slice(start, start + len).join(''));
    start += len;
  }
  return words;
}
