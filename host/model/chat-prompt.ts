// Chat messages -> prompt token ids with the model's chat template (or a fallback for its vocab).
import { fallbackTemplateFor, renderChat, type ChatMessage } from './chat-template.js';
import type { Tokenizer } from './tokenizer/index.js';

/** The GGUF carries a chat template (tokenizer.chat_template); without one encodeChat guesses from the vocab. */
export function hasChatTemplate(tokenizer: Tokenizer): boolean {
  return tokenizer.vocab.chatTemplate !== undefined;
}

export function encodeChat(tokenizer: Tokenizer, messages: ChatMessage[], template = tokenizer.vocab.chatTemplate ?? fallbackTemplateFor(tokenizer.vocab.tokens)): number[] {
  const bos = tokenizer.bosId !== undefined ? tokenizer.vocab.tokens[tokenizer.bosId] : '';
  const eos = tokenizer.eosId !== undefined ? tokenizer.vocab.tokens[tokenizer.eosId] : '';
  const prompt = renderChat(template, messages, { bosToken: bos, eosToken: eos, addGenerationPrompt: true });
  // BOS as llama.cpp adds it (the vocab's add_bos), but not a second one after a template that writes it
  const addBos = tokenizer.vocab.addBos && !(bos !== '' && prompt.startsWith(bos));
  return tokenizer.encode(prompt, { parseSpecial: true, addBos });
}
