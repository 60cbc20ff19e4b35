// --chat on a model without a chat template: wisp refuses rather than guess a format the model was
// not trained on (a base model such as stories260K answers a guessed [INST] wrapper with
// gibberish); --template names one to use anyway.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { FALLBACK_TEMPLATES } from '../model/chat-template.js';
import { UsageError } from './args.js';

const NAMES = Object.keys(FALLBACK_TEMPLATES);

export const TEMPLATE_HELP = `      --template NAME|FILE  the chat template for --chat when the model has none (${NAMES.join(', ')},
                          or a Jinja file); without it --chat on such a model is refused`;

/** The template text --template names (a built-in name or a Jinja file); undefined when not given. */
export function chatTemplateOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Object.hasOwn(FALLBACK_TEMPLATES, value)) return FALLBACK_TEMPLATES[value];
  if (existsSync(value)) return readFileSync(value, 'utf8');
  throw new UsageError(`--template ${value}: not one of ${NAMES.join(', ')} and no such file`);
}

/** The one line for --chat on a model whose GGUF has no tokenizer.chat_template. */
export function noTemplateError(model: string): UsageError {
  const name = basename(model).replace(/\.gguf$/i, '');
  return new UsageError(
    `${name} has no chat template (it is not a chat model), so --chat is refused: drop --chat to continue plain text, ` +
      `or name a format with --template ${NAMES.join('|')}|FILE`,
  );
}
