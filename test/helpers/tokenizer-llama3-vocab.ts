// The LLaMA 3 vocabulary in GGUF form, built from the data llama3-tokenizer-js ships (a devDependency
// used as the test oracle). The package decodes its baked data into `vocabById` (128000 byte-level
// BPE tokens, then the 256 special tokens <|begin_of_text|>...) and `merges` (a Map from "a b" to a
// priority that grows with the merge's rank). GGUF wants tokens by id and merges as "a b" strings
// in rank order, with the special tokens typed CONTROL, as llama.cpp's converter writes them.

import llama3Tokenizer from 'llama3-tokenizer-js';
import { TOKEN_TYPE, type TokenizerVocab } from '../../host/model/tokenizer/vocab.js';

export { llama3Tokenizer };

const FIRST_SPECIAL_ID = 128000;

export function llama3Vocab(): TokenizerVocab {
  const tokens = [...llama3Tokenizer.vocabById];
  const merges = [...llama3Tokenizer.merges.entries()].sort((a, b) => a[1] - b[1]).map(([pair]) => pair);
  const tokenTypes = Int32Array.from(tokens, (_, id) => (id >= FIRST_SPECIAL_ID ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL));
  return {
    model: 'gpt2',
    pre: 'llama3',
    tokens,
    tokenTypes,
    merges,
    bosId: tokens.indexOf('<|begin_of_text|>'),
    eosId: tokens.indexOf('<|end_of_text|>'),
    eotId: tokens.indexOf('<|eot_id|>'),
    addBos: true,
    addEos: false,
    addSpacePrefix: false,
  };
}
