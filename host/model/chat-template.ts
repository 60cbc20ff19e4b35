// Chat messages → prompt text, with the model's Jinja chat template (tokenizer.chat_template)
// rendered by @huggingface/jinja, the same way transformers' apply_chat_template does.

import { Template } from '@huggingface/jinja';

export interface ChatMessage { role: 'system' | 'user' | 'assistant' | string; content: string }

export interface RenderOptions {
  bosToken?: string;             // the template's bos_token (default '')
  eosToken?: string;             // the template's eos_token (default '')
  addGenerationPrompt?: boolean; // end with the header of an assistant turn (default false)
}

// Templates for models whose GGUF has no tokenizer.chat_template, verbatim from the models'
// tokenizer_config.json (Llama-2-7b-chat-hf, Meta-Llama-3-8B-Instruct; ChatML as in OpenHermes-2.5).
export const FALLBACK_TEMPLATES: Record<string, string> = {
  llama2:
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
    '{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}' +
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
    "{% else %}{% set content = message['content'] %}{% endif %}" +
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
  chatml:
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
  llama3:
    "{% set loop_messages = messages %}{% for message in loop_messages %}" +
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}" +
    '{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}' +
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
};

/** Which fallback suits a vocab without a template: by the chat marker tokens it has. */
export function fallbackTemplateFor(tokens: readonly string[]): string {
  const has = new Set(tokens);
  if (has.has('<|start_header_id|>')) return FALLBACK_TEMPLATES.llama3;
  if (has.has('<|im_start|>')) return FALLBACK_TEMPLATES.chatml;
  return FALLBACK_TEMPLATES.llama2;
}

// Parsed templates by source: a server renders the same one or two templates for every request.
const parsedTemplates = new Map<string, Template>();
const MAX_CACHED = 16;

export function renderChat(template: string, messages: ChatMessage[], opts: RenderOptions = {}): string {
  const parsed = parse(template);
  try {
    return parsed.render({
      messages,
      bos_token: opts.bosToken ?? '',
      eos_token: opts.eosToken ?? '',
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    });
  } catch (err) {
    throw new Error(`chat template failed to render: ${messageOf(err)}`);
  }
}

function parse(template: string): Template {
  let parsed = parsedTemplates.get(template);
  if (parsed) return parsed;
  try {
    parsed = new Template(template);
  } catch (err) {
    throw new Error(`chat template does not parse: ${messageOf(err)}`);
  }
  if (parsedTemplates.size >= MAX_CACHED) parsedTemplates.delete(parsedTemplates.keys().next().value as string);
  parsedTemplates.set(template, parsed);
  return parsed;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
