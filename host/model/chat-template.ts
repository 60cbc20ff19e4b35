// Chat messages → prompt text, with the model's Jinja chat template (tokenizer.chat_template)
// rendered by @huggingface/jinja the way transformers' apply_chat_template renders it with Python's
// jinja2: the same variables (messages, tools and documents as none, add_generation_prompt,
// bos_token, eos_token), raise_exception, strftime_now (C locale), trim_blocks and lstrip_blocks
// (@huggingface/jinja's Template sets both). Where @huggingface/jinja differs from jinja2 on the
// real templates, template-fixes.ts rewrites the parsed template (see there for the list).

import { Template } from '@huggingface/jinja';
import { fixParsedTemplate, PYTHON_STRING_HELPERS, RENAMED_GLOBALS } from './template-fixes.js';

export interface ChatMessage { role: 'system' | 'user' | 'assistant' | string; content: string }

export interface RenderOptions {
  bosToken?: string;             // the template's bos_token (default '')
  eosToken?: string;             // the template's eos_token (default '')
  addGenerationPrompt?: boolean; // end with the header of an assistant turn (default false)
  now?: Date;                    // what strftime_now formats (default: the current time)
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
    const now = opts.now ?? new Date();
    return parsed.render({
      messages,
      tools: null,
      documents: null,
      bos_token: opts.bosToken ?? '',
      eos_token: opts.eosToken ?? '',
      add_generation_prompt: opts.addGenerationPrompt ?? false,
      [RENAMED_GLOBALS.raise_exception]: (message: unknown) => {
        throw new TemplateException(String(message));
      },
      [RENAMED_GLOBALS.strftime_now]: (format: unknown) => strftime(now, String(format)),
      ...PYTHON_STRING_HELPERS,
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
    fixParsedTemplate(parsed.parsed);
  } catch (err) {
    throw new Error(`chat template does not parse: ${messageOf(err)}`);
  }
  if (parsedTemplates.size >= MAX_CACHED) parsedTemplates.delete(parsedTemplates.keys().next().value as string);
  parsedTemplates.set(template, parsed);
  return parsed;
}

/** What the template raised with raise_exception(message). */
class TemplateException extends Error {}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Python's datetime.strftime in the C locale (glibc's %-d "no padding" too), for the directives chat templates use. */
export function strftime(d: Date, format: string): string {
  return format.replace(/%(-?)([a-zA-Z%])/g, (whole, noPad: string, c: string) => {
    const out = directive(d, c) ?? whole;
    return noPad && out !== whole ? out.replace(/^[0 ]+(?=.)/, '') : out;
  });
}

function directive(d: Date, c: string): string | undefined {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'e': return String(d.getDate()).padStart(2, ' ');
      case 'B': return MONTHS[d.getMonth()];
      case 'b': case 'h': return MONTHS[d.getMonth()].slice(0, 3);
      case 'A': return DAYS[d.getDay()];
      case 'a': return DAYS[d.getDay()].slice(0, 3);
      case 'H': return pad(d.getHours());
      case 'I': return pad(d.getHours() % 12 || 12);
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'j': return pad(Math.floor((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 864e5) + 1, 3);
      case '%': return '%';
      default: return undefined;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
