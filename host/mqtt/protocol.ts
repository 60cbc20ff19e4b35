// The MQTT protocol's messages (docs/PROTOCOL.md): topics, JSON Schema validation with errors
// that name the field, and the reply shapes. The schemas in host/mqtt/schemas/ are the single
// source of truth; the types here follow them and a test checks both agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { repoRoot } from '../model/catalog.js';
import { DEFAULT_SAMPLING } from '../engine/sampler.js';
import type { SequenceOptions } from '../engine/sequence.js';
import type { JobResult } from '../engine/scheduler.js';

export { topics } from './topics.js';

export interface ChatMessageIn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A validated request (field names as on the wire). */
export interface InferRequest {
  id: string;
  prompt?: string;
  messages?: ChatMessageIn[];
  model?: string;
  max_tokens?: number;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  repeat_penalty?: number;
  seed?: number;
  stop?: string[];
  stream?: boolean;
  reply_to?: string;
  client?: string;
}

export type CancelRequest = { id: string } | { client: string };

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'payload_too_large'
  | 'prompt_too_long'
  | 'unknown_model'
  | 'busy'
  | 'rate_limited'
  | 'forbidden_reply_topic'
  | 'duplicate_id'
  | 'forbidden'
  | 'not_implemented'
  | 'model_error'
  | 'shutdown'
  | 'internal';

export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The request id when it could be read. */
    readonly id: string | null = null,
  ) {
    super(message);
  }
}

export const DEFAULT_MAX_TOKENS = 256;

/** The protocol's JSON Schemas (host/mqtt/schemas/<name>.schema.json). */
export type SchemaName = 'infer-request' | 'cancel' | 'reply' | 'status' | 'kernel-control' | 'kernel-control-reply';

export function schemaPath(name: SchemaName): string {
  return join(repoRoot(), 'host', 'mqtt', 'schemas', `${name}.schema.json`);
}

const validators = new Map<string, ValidateFunction>();
export function validator(name: SchemaName): ValidateFunction {
  let v = validators.get(name);
  if (!v) {
    v = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(JSON.parse(readFileSync(schemaPath(name), 'utf8')));
    validators.set(name, v);
  }
  return v;
}

/** Whether `id` is a valid request id by the schema (so it is safe as a topic level). */
export function isRequestId(id: string): boolean {
  return validator('infer-request')({ id, prompt: '' });
}

/** One sentence naming the first thing wrong, e.g. `max_tokens: must be >= 1`. */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined, what: string): string {
  const list = errors ?? [];
  const rootType = list.find((e) => e.keyword === 'type' && e.instancePath === '');
  if (rootType) return `${what}: must be a JSON object`;
  // the oneOf of prompt/messages reports its branches' errors too: say it plainly instead
  const unknown = list.find((e) => e.keyword === 'additionalProperties');
  if (unknown) {
    const at = unknown.instancePath ? `${fieldName(unknown.instancePath)}: ` : '';
    return `${what}: ${at}unknown field '${(unknown.params as { additionalProperty: string }).additionalProperty}'`;
  }
  const specific = list.find((e) => e.keyword !== 'oneOf' && e.keyword !== 'not' && e.keyword !== 'required' && e.instancePath !== '');
  if (specific) return `${what}: ${fieldName(specific.instancePath)}: ${specific.message}`;
  const required = list.find((e) => e.keyword === 'required' && e.instancePath === '' && (e.params as { missingProperty: string }).missingProperty === 'id');
  if (required) return `${what}: missing field 'id'`;
  if (list.some((e) => ['oneOf', 'not', 'minProperties', 'maxProperties'].includes(e.keyword))) {
    return what === 'request' ? `${what}: give exactly one of 'prompt' or 'messages'` : `${what}: give exactly one of 'id' or 'client'`;
  }
  const first = list[0];
  if (!first) return `${what}: invalid`;
  return `${what}: ${first.instancePath ? `${fieldName(first.instancePath)}: ` : ''}${first.message}`;
}

function fieldName(instancePath: string): string {
  // "/messages/0/role" -> "messages[0].role"
  return instancePath
    .split('/')
    .slice(1)
    .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

/** Parses and validates an infer payload; throws ProtocolError (invalid_json / invalid_request). */
export function parseInferRequest(payload: Buffer | string): InferRequest {
  const data = parseJson(payload);
  const v = validator('infer-request');
  if (!v(data)) {
    const id = typeof (data as { id?: unknown })?.id === 'string' ? ((data as { id: string }).id) : null;
    throw new ProtocolError('invalid_request', describeSchemaErrors(v.errors, 'request'), id);
  }
  return data as InferRequest;
}

export function parseCancel(payload: Buffer | string): CancelRequest {
  const data = parseJson(payload);
  const v = validator('cancel');
  if (!v(data)) throw new ProtocolError('invalid_request', describeSchemaErrors(v.errors, 'cancel'));
  return data as CancelRequest;
}

function parseJson(payload: Buffer | string): unknown {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ProtocolError('invalid_json', `payload is not JSON: ${(err as Error).message}`);
  }
}

/** The engine's options for a request (defaults: the sampler's, and DEFAULT_MAX_TOKENS). */
export function sequenceOptions(r: InferRequest): SequenceOptions {
  return {
    maxTokens: r.max_tokens ?? DEFAULT_MAX_TOKENS,
    temperature: r.temperature ?? DEFAULT_SAMPLING.temperature,
    topK: r.top_k ?? DEFAULT_SAMPLING.topK,
    topP: r.top_p ?? DEFAULT_SAMPLING.topP,
    minP: r.min_p ?? DEFAULT_SAMPLING.minP,
    repeatPenalty: r.repeat_penalty ?? DEFAULT_SAMPLING.repeatPenalty,
    seed: r.seed ?? DEFAULT_SAMPLING.seed,
    stop: r.stop,
  };
}

export interface ChunkReply {
  id: string;
  seq: number;
  text: string;
}

export interface FinalReply {
  id: string;
  done: true;
  text: string;
  finish_reason: 'stop' | 'length' | 'cancelled';
  usage: { prompt_tokens: number; completion_tokens: number };
  timings: { queue_ms: number; prefill_ms: number; decode_ms: number; ttft_ms: number; decode_tokens_per_second: number };
  device: string;
}

export interface ErrorReply {
  id: string | null;
  done: true;
  finish_reason: 'error';
  error: { code: ErrorCode; message: string };
  device: string;
}

export function finalReply(id: string, r: JobResult, device: string): FinalReply {
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    id,
    done: true,
    text: r.text,
    finish_reason: r.finishReason,
    usage: { prompt_tokens: r.usage.promptTokens, completion_tokens: r.usage.completionTokens },
    timings: {
      queue_ms: round(r.timings.queueMs),
      prefill_ms: round(r.timings.prefillMs),
      decode_ms: round(r.timings.decodeMs),
      ttft_ms: round(r.timings.timeToFirstTokenMs),
      decode_tokens_per_second: round(r.timings.decodeTokensPerSecond),
    },
    device,
  };
}

export function errorReply(id: string | null, code: ErrorCode, message: string, device: string): ErrorReply {
  return { id, done: true, finish_reason: 'error', error: { code, message }, device };
}
