#!/usr/bin/env node
// Writes test/golden/tokenizer/corpus.json: a fixed, seeded corpus of strings that the tokenizer
// tests run through SentencePiece (goldens from scripts/golden/spm_goldens.py), llama3-tokenizer-js,
// decode/encode round trips and the stream decoder. Deterministic: the same seed gives the same file.
//
//   node scripts/golden/tokenizer_corpus.mjs [--seed N] [--out path]

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const argValue = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const SEED = Number(argValue('--seed', '20240611'));
const OUT = resolve(argValue('--out', resolve(root, 'test/golden/tokenizer/corpus.json')));

// ---- seeded randomness (mulberry32) ----------------------------------------------------------

let state = SEED >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1)); // inclusive
const pick = (list) => list[int(0, list.length - 1)];
const repeat = (n, fn) => Array.from({ length: n }, (_, i) => fn(i));
const chars = (s) => Array.from(s);
const fromRange = (lo, hi) => String.fromCodePoint(int(lo, hi));

// ---- material ----------------------------------------------------------------------------------

const ENGLISH_WORDS = (
  'the quick brown fox jumps over lazy dog once upon a time there was little girl named Lily she loved ' +
  'to play outside with her friends in park one day saw big red ball and wanted it tokenizer model ' +
  'inference server edge device running small language models on WebAssembly kernels quantized weights ' +
  "don't can't won't it's I'm you're we've they'll she'd HELLO World OpenAI Llama Mistral Qwen GPT " +
  'antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilistic ' +
  'naïve café résumé coöperate façade jalapeño über Zoë'
).split(' ');
const PUNCT_END = ['.', '!', '?', '...', '?!', ':', ';', '', '.\n', '!!'];
const LATIN_WORDS = (
  'Ça va très bien merci beaucoup Größe Straße Fußgänger Ärger Öl über señor niño año mañana corazón ' +
  'Zażółć gęślą jaźń Łódź Kraków Tiếng Việt người được không Đà Nẵng Ελληνικά καλημέρα κόσμε ' +
  'Привет мир Съешь же ещё этих мягких французских булок Україна ґанок İstanbul ığdır şeker çay ' +
  'Ærøskøbing smørrebrød Ångström Þórsmörk ðæt fjörður Dvořák Škoda žluťoučký kůň ÅÄÖ ÀÉÎÕÜ ÿ ß ẞ'
).split(' ');
const EMOJI = [
  '😀', '😂', '🥲', '❤️', '👍', '👍🏻', '👍🏽', '👍🏿', '👋🏼', '🙏🏾', '👨‍👩‍👧‍👦', '👩‍💻', '🧑🏽‍🚀', '🏳️‍🌈',
  '🏴‍☠️', '👁️‍🗨️', '❤️‍🔥', '🇯🇵', '🇺🇸', '🇪🇺', '1️⃣', '#️⃣', '©️', '™️', '☕', '🦀', '🐍', '🚀', '🌍',
  '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '🫠', '🧑‍🤝‍🧑', '👩🏻‍❤️‍💋‍👨🏼', '✌︎', '✌️', '⌚', '🀄', '🃏',
];
const CJK_PHRASES = [
  '你好，世界！', '今天天气很好。', '我爱自然语言处理', '机器学习模型在边缘设备上运行', '中华人民共和国',
  'こんにちは世界', '東京は日本の首都です。', 'カタカナとひらがな', 'ｶﾀｶﾅ半角', '吾輩は猫である。名前はまだ無い。',
  '안녕하세요 세계', '한국어 토크나이저 테스트', '대한민국', '繁體中文與简体中文', '𠀀𠀁𪚥𩸽', '〇一二三四五六七八九十',
];
const RTL_INDIC_THAI = [
  'مرحبا بالعالم', 'اللغة العربية جميلة', 'السَّلَامُ عَلَيْكُمْ', 'שלום עולם', 'עִבְרִית', 'नमस्ते दुनिया',
  'हिन्दी भाषा', 'क्षत्रिय', 'สวัสดีชาวโลก', 'ภาษาไทยไม่มีช่องว่างระหว่างคำ', 'ສະບາຍດີ', 'বাংলা ভাষা',
  'தமிழ் மொழி', 'ગુજરાતી', 'ਪੰਜਾਬੀ', 'မြန်မာ', 'ខ្មែរ', 'ქართული', 'Հայերեն', 'አማርኛ', 'فارسی زبان',
];
const SCRIPT_RANGES = [
  [0x0600, 0x06ff], [0x0590, 0x05ff], [0x0900, 0x097f], [0x0e00, 0x0e7f], [0x4e00, 0x9fff],
  [0x3040, 0x30ff], [0xac00, 0xd7a3], [0x0400, 0x04ff], [0x0370, 0x03ff], [0x00c0, 0x024f],
];
const WHITESPACE = [' ', ' ', ' ', '  ', '\t', '\n', '\n\n', '\r\n', '\r', '\u00a0', '\u3000', '\u2009', '\u200b', '\v', '\f', '\u2028', '\u0085'];
const PUNCTUATION = chars('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~…—–«»¿¡、。・「」【】‘’“”•′″§¶†‡‰');
const CODE = [
  'function add(a, b) {\n  return a + b;\n}\n',
  'const x = arr.map((v) => v * 2).filter(Boolean);',
  'def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n',
  'for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}',
  '{"name": "wisp", "version": "0.1.0", "tags": ["edge", "llm"], "ok": true, "n": null}',
  '<div class="chat"><p>Hello &amp; welcome</p></div>',
  'SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC LIMIT 10;',
  '#!/bin/sh\nset -eu\nfor f in *.gguf; do sha256sum "$f"; done\n',
  'fn main() { println!("{}", "hi"); }',
  'if (x != nullptr && x->next) { x = x->next; } // advance',
  'import numpy as np\nA = np.zeros((3, 3), dtype=np.float32)\n',
  '    indented\n        more indented\n\t\ttabs\n',
  'a=1;b=2;c=a<<b|0xFF&~0b1010;',
  '/* block comment */ int main(void) { return 0; }',
  'x := map[string]int{"a": 1}\nfmt.Println(x["a"])',
  '```ts\nconst t: number = 1;\n```',
  '$ npm install --save-dev typescript@5 && npx tsc -p .',
  'let re = /^(?:\\d{3}-)?\\d{4}$/u;',
];
const EDGE_CASES = [
  '', ' ', '  ', '   ', '\n', '\t', '\r\n', ' \n ', 'a', 'A', '0', '.', 'Hello', 'Hello world', ' Hello world',
  'Hello world ', '  Hello  world  ', 'Once upon a time', 'once upon a time,', 'hello\nworld', 'hello\n\nworld',
  '<s>', '</s>', '<unk>', '<s>hello</s>', '<0x41>', '<|endoftext|>', '[INST] hi [/INST]', 'don\'t', "I'M",
  "we'Ve", "'s", "'S 's 'sa", 'ſ', 'ﬁ', 'Ⅻ', '１２３', '½', '²', 'x\u0301', 'é', 'e\u0301', '\ufeff', '\ufeffBOM',
  '\u2581', '\u2581\u2581x', 'a\u2581b', '\u00a0', '\u200d', '\u200b', '\ufffd', 'a\ufffdb', '\u0000', 'a\u0000b',
  '\u007f', '\u00ad', '\u061c', '\u202e', '\ufffe', '\uffff', '\u{10ffff}', '\u{e0001}', '\u{1f600}', '\u{20000}',
  '1234567890', '3.14159', '-0.0', '1e-9', '12,345,678.90', '٣٤٥', '३४५', '𝟘𝟙𝟚', '𝕳𝖊𝖑𝖑𝖔', 'ℌ𝔢𝔩𝔩𝔬',
];

// ---- categories -------------------------------------------------------------------------------

const englishSentence = () => {
  const words = repeat(int(1, 18), () => pick(ENGLISH_WORDS));
  if (random() < 0.7) words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  return words.join(random() < 0.1 ? '  ' : ' ').replace(/ ([a-z]+) /, random() < 0.3 ? ', $1 ' : ' $1 ') + pick(PUNCT_END);
};
const latinSentence = () => repeat(int(1, 12), () => pick(LATIN_WORDS)).join(' ') + pick(PUNCT_END);
const emojiText = () =>
  repeat(int(1, 10), () => (random() < 0.6 ? pick(EMOJI) : pick(ENGLISH_WORDS))).join(random() < 0.5 ? ' ' : '');
const randomScript = () => {
  const [lo, hi] = pick(SCRIPT_RANGES);
  return repeat(int(1, 12), () => (random() < 0.15 ? ' ' : fromRange(lo, hi))).join('');
};
const cjkText = () => (random() < 0.6 ? repeat(int(1, 3), () => pick(CJK_PHRASES)).join(pick(['', ' ', '\n'])) : randomScript());
const rtlIndicThai = () => (random() < 0.6 ? repeat(int(1, 3), () => pick(RTL_INDIC_THAI)).join(pick([' ', '، ', '\n', ' - '])) : randomScript());
const whitespaceRun = () => {
  const parts = [];
  for (let i = int(1, 8); i > 0; i--) {
    parts.push(repeat(int(1, 4), () => pick(WHITESPACE)).join(''));
    if (random() < 0.6) parts.push(pick(ENGLISH_WORDS));
  }
  return parts.join('');
};
const numbers = () => {
  const kinds = [
    () => repeat(int(1, 40), () => String(int(0, 9))).join(''),
    () => `${int(0, 99999)}.${int(0, 99999)}`,
    () => `${int(1, 9)},${String(int(0, 999)).padStart(3, '0')},${String(int(0, 999)).padStart(3, '0')}`,
    () => `+1 (${int(200, 999)}) ${int(200, 999)}-${int(1000, 9999)}`,
    () => `${int(1990, 2030)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}T${int(10, 23)}:${int(10, 59)}:00Z`,
    () => `0x${int(0, 0xffffff).toString(16)}`,
    () => `${pick(['', '-', '+'])}${int(1, 999)}e${pick(['', '-'])}${int(1, 30)}`,
    () => `I have ${int(2, 1000)} apples and ${int(2, 1000000)} oranges.`,
    () => repeat(int(1, 6), () => String.fromCodePoint(pick([0x0660, 0x0966, 0x0e50, 0xff10]) + int(0, 9))).join(''),
  ];
  return pick(kinds)();
};
const paddedSentence = () => {
  const pad = () => repeat(int(0, 4), () => pick([' ', ' ', '\t', '\n'])).join('');
  return pad() + englishSentence() + pad();
};
const controlChars = () =>
  repeat(int(1, 10), () => {
    const r = random();
    if (r < 0.45) return String.fromCharCode(int(0, 0x1f));
    if (r < 0.55) return '\u007f';
    if (r < 0.65) return String.fromCharCode(int(0x80, 0x9f));
    return pick(ENGLISH_WORDS);
  }).join(random() < 0.5 ? '' : ' ');
const punctuationRun = () => repeat(int(1, 25), () => (random() < 0.9 ? pick(PUNCTUATION) : ' ')).join('');
const codeSnippet = () => {
  const snippet = repeat(int(1, 3), () => pick(CODE)).join('\n');
  return random() < 0.3 ? snippet.replace(/ {4}/g, '\t') : snippet;
};
const randomCodePoints = () => {
  const planes = [[0x20, 0x7e], [0x80, 0x7ff], [0x800, 0xd7ff], [0xe000, 0xffff], [0x10000, 0x10ffff], [0x1f300, 0x1faff], [0, 0x10ffff]];
  return repeat(int(1, 20), () => {
    const [lo, hi] = pick(planes);
    let cp = int(lo, hi);
    if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800; // lone surrogates cannot be UTF-8
    return String.fromCodePoint(cp);
  }).join('');
};
const GENERATORS = [englishSentence, latinSentence, emojiText, cjkText, rtlIndicThai, whitespaceRun, numbers, paddedSentence, controlChars, punctuationRun, codeSnippet, randomCodePoints];
const mixed = () => repeat(int(2, 5), () => pick(GENERATORS)()).join(pick(['', ' ', '\n', ' \t ']));
const longText = () => repeat(int(100, 400), () => pick(GENERATORS)()).join(pick([' ', '\n']));

const CATEGORIES = [
  ['english', englishSentence, 300],
  ['latin', latinSentence, 150],
  ['emoji', emojiText, 150],
  ['cjk', cjkText, 150],
  ['rtl-indic-thai', rtlIndicThai, 150],
  ['whitespace', whitespaceRun, 200],
  ['numbers', numbers, 150],
  ['padded', paddedSentence, 100],
  ['control', controlChars, 150],
  ['punctuation', punctuationRun, 120],
  ['code', codeSnippet, 120],
  ['random-code-points', randomCodePoints, 250],
  ['mixed', mixed, 200],
  ['long', longText, 6],
];

// ---- write ------------------------------------------------------------------------------------

const strings = [...EDGE_CASES];
const counts = { edge: EDGE_CASES.length };
for (const [name, make, n] of CATEGORIES) {
  for (let i = 0; i < n; i++) strings.push(make());
  counts[name] = n;
}
// One string per line, so a diff of the file shows which strings changed.
const header = `"generator": "scripts/golden/tokenizer_corpus.mjs", "seed": ${SEED}, "counts": ${JSON.stringify(counts)}`;
const body = strings.map((s) => JSON.stringify(s)).join(',\n');
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `{${header},\n"strings": [\n${body}\n]}\n`);
console.log(`wrote ${strings.length} strings to ${OUT}`);
