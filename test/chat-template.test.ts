// Chat templates rendered with @huggingface/jinja, against the exact prompts the models expect.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FALLBACK_TEMPLATES, fallbackTemplateFor, renderChat, type ChatMessage } from '../host/model/chat-template.js';

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
