// Chat templates rendered with @huggingface/jinja, against the exact prompts the models expect:
// each family's real template against Python jinja2's rendering as transformers sets it up
// (goldens from scripts/golden/chat_template_goldens.py), and the built-in fallbacks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FALLBACK_TEMPLATES, fallbackTemplateFor, renderChat, strftime, type ChatMessage } from '../host/model/chat-template.js';
import { TOKENIZER_GOLDEN_DIR } from './helpers/tokenizer-vocabs.js';

interface TemplateGolden {
  now: string;
  families: Record<string, {
    family: string; source: string; template: string; bos_token: string; eos_token: string;
    cases: Array<{ name: string; messages: ChatMessage[]; add_generation_prompt: boolean; expected?: string; error?: string }>;
  }>;
}
const golden = JSON.parse(readFileSync(join(TOKENIZER_GOLDEN_DIR, 'chat-templates.json'), 'utf8')) as TemplateGolden;
const NOW = new Date(golden.now); // local time, as Python's naive datetime

for (const [key, f] of Object.entries(golden.families)) {
  test(`${key}: the real template renders as Python jinja2 renders it (${f.cases.length} conversations, ${f.source})`, () => {
    assert.ok(f.cases.length >= 10);
    const differ: string[] = [];
    for (const c of f.cases) {
      const opts = { bosToken: f.bos_token, eosToken: f.eos_token, addGenerationPrompt: c.add_generation_prompt, now: NOW };
      let got: string;
      try {
        got = renderChat(f.template, c.messages, opts);
      } catch (err) {
        got = `error: ${(err as Error).message}`;
      }
      const ok = c.error !== undefined ? got.startsWith('error: ') && got.includes(c.error) : got === c.expected;
      if (!ok) differ.push(`${c.name}: ${JSON.stringify(got).slice(0, 300)} vs jinja2 ${JSON.stringify(c.expected ?? c.error).slice(0, 300)}`);
    }
    assert.equal(differ, []);
  });
}

test('str.strip/lstrip/rstrip take Python\'s chars argument and Python\'s whitespace', () => {
  const t = "{{ a.lstrip('\\n') }}|{{ a.rstrip() }}|{{ b.strip('xy') }}|{{ c | trim }}|{{ c.strip() }}";
  const out = renderChat(t.replace('{{', '{%- set a = messages[0].content -%}{%- set b = messages[1].content -%}{%- set c = messages[2].content -%}{{'), [
    { role: 'user', content: '\n\n lead\n ' }, { role: 'user', content: 'xxyhixy' }, { role: 'user', content: '\ufeff hi \x85' },
  ]);
  assert.is(out, ' lead\n |\n\n lead|hi|\ufeff hi|\ufeff hi');
});

test('strftime_now formats like Python in the C locale, at the time given', () => {
  const d = new Date(2026, 1, 3, 4, 5, 6);
  assert.is(strftime(d, '%d %b %Y'), '03 Feb 2026');
  assert.is(strftime(d, '%A %B %-d %H:%M:%S %j %%'), 'Tuesday February 3 04:05:06 034 %');
  assert.is(renderChat('{{ strftime_now("%Y-%m-%d") }}', [], { now: d }), '2026-02-03');
});

test('tools and documents are none, as transformers passes them', () => {
  // (printed as {% if %} results: @huggingface/jinja writes booleans as true/false, jinja2 as True/False)
  assert.is(renderChat('{% if tools is none and documents is none and tools is defined %}none{% endif %}', []), 'none');
});

const conversation: ChatMessage[] = [
  { role: 'system', content: 'You are helpful.' },
  { role: 'user', content: 'Hi!' },
  { role: 'assistant', content: 'Hello! How can I help?' },
  { role: 'user', content: 'Tell me a joke.' },
];

test('llama2: system prompt folded into the first [INST], BOS/EOS around each exchange', () => {
  const out = renderChat(FALLBACK_TEMPLATES.llama2, conversation, { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true });
  assert.is(
    out,
    '<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi! [/INST] Hello! How can I help? </s>' +
      '<s>[INST] Tell me a joke. [/INST]',
  );
  const noSystem = renderChat(FALLBACK_TEMPLATES.llama2, conversation.slice(1, 2), { bosToken: '<s>', eosToken: '</s>' });
  assert.is(noSystem, '<s>[INST] Hi! [/INST]');
});

test('chatml: one <|im_start|> block per message, then the assistant header', () => {
  const out = renderChat(FALLBACK_TEMPLATES.chatml, conversation, { addGenerationPrompt: true });
  assert.is(
    out,
    '<|im_start|>system\nYou are helpful.<|im_end|>\n' +
      '<|im_start|>user\nHi!<|im_end|>\n' +
      '<|im_start|>assistant\nHello! How can I help?<|im_end|>\n' +
      '<|im_start|>user\nTell me a joke.<|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
  const noPrompt = renderChat(FALLBACK_TEMPLATES.chatml, conversation.slice(1, 2), {});
  assert.is(noPrompt, '<|im_start|>user\nHi!<|im_end|>\n');
});

test('llama3: header blocks with trimmed content, BOS first, assistant header last', () => {
  const messages = conversation.map((m) => (m.role === 'user' ? { ...m, content: `  ${m.content}\n` } : m));
  const out = renderChat(FALLBACK_TEMPLATES.llama3, messages, { bosToken: '<|begin_of_text|>', addGenerationPrompt: true });
  assert.is(
    out,
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|>' +
      '<|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|>' +
      '<|start_header_id|>assistant<|end_header_id|>\n\n',
  );
  const noPrompt = renderChat(FALLBACK_TEMPLATES.llama3, conversation.slice(1, 2), { bosToken: '<|begin_of_text|>' });
  assert.is(noPrompt, '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>');
});

test('a template that does not parse is a clear error', () => {
  assert.throws(() => renderChat('{% for m in messages %}{{ m.content }}', conversation, {}), /chat template does not parse/);
  assert.throws(() => renderChat('{{ messages[0].content ', conversation, {}), /chat template does not parse/);
});

test('a template that fails while rendering is a clear error, with its own message', () => {
  const badOrder = [conversation[1], conversation[1]];
  assert.throws(
    () => renderChat(FALLBACK_TEMPLATES.llama2, badOrder, { bosToken: '<s>', eosToken: '</s>' }),
    /chat template failed to render: .*Conversation roles must alternate/,
  );
  assert.throws(() => renderChat('{{ no_such_function() }}', conversation, {}), /chat template failed to render/);
});

test('fallbackTemplateFor picks the template by the chat tokens a vocab has', () => {
  assert.is(fallbackTemplateFor(['a', '<|start_header_id|>', '<|eot_id|>']), FALLBACK_TEMPLATES.llama3);
  assert.is(fallbackTemplateFor(['<|im_start|>', '<|im_end|>']), FALLBACK_TEMPLATES.chatml);
  assert.is(fallbackTemplateFor(['<unk>', '<s>', '</s>']), FALLBACK_TEMPLATES.llama2);
});

test.run();
