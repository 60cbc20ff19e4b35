#!/usr/bin/env python3
"""Writes test/golden/tokenizer/spm-llama2.json: the ids that Python sentencepiece gives for every
string of test/golden/tokenizer/corpus.json with the LLaMA-2 tokenizer.model (no BOS/EOS).
test/tokenizer-spm.test.ts compares wisp's SPM tokenizer against this file, so the tests need no Python.

    pip install sentencepiece
    python3 scripts/golden/spm_goldens.py [--model path/to/tokenizer.model] [--corpus ...] [--out ...]

The model defaults to $WISP_TOKENIZER_DIR/llama2/tokenizer.model, else ../shared/tokenizers/...
next to the repository.
"""
import argparse
import hashlib
import json
import os

import sentencepiece as spm

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def default_model() -> str:
    base = os.environ.get('WISP_TOKENIZER_DIR') or os.path.join(ROOT, '..', 'shared', 'tokenizers')
    return os.path.join(base, 'llama2', 'tokenizer.model')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default=default_model())
    ap.add_argument('--corpus', default=os.path.join(ROOT, 'test', 'golden', 'tokenizer', 'corpus.json'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'test', 'golden', 'tokenizer', 'spm-llama2.json'))
    args = ap.parse_args()

    with open(args.corpus, encoding='utf-8') as f:
        corpus = json.load(f)
    with open(args.model, 'rb') as f:
        model_sha256 = hashlib.sha256(f.read()).hexdigest()
    sp = spm.SentencePieceProcessor(model_file=args.model)
    ids = [sp.encode(s) for s in corpus['strings']]

    header = {
        'generator': 'scripts/golden/spm_goldens.py',
        'sentencepiece': spm.__version__,
        'model': 'llama2/tokenizer.model',
        'model_sha256': model_sha256,
        'corpus_seed': corpus['seed'],
        'count': len(ids),
    }
    # One string's ids per line, in corpus order.
    lines = ',\n'.join(json.dumps(x, separators=(',', ':')) for x in ids)
    head = json.dumps(header, separators=(', ', ': '))[1:-1]
    with open(args.out, 'w', encoding='utf-8') as f:
        f.write('{' + head + ',\n"ids": [\n' + lines + '\n]}\n')
    print(f'wrote ids of {len(ids)} strings to {args.out}')


if __name__ == '__main__':
    main()
