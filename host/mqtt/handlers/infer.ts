// wisp/<device>/infer (and wisp/fleet/infer): a request in, queued on the scheduler, its text
// streamed back (docs/PROTOCOL.md "Request", "Replies", "Delivery"). Every request that is read gets
// exactly one final message or one error, except a redelivery of one already taken.
import { basename } from 'node:path';
import { BusyError, type JobResult } from '../../engine/scheduler.js';
import { PromptTooLongError } from '../../engine/sequence.js';
import { encodeChat } from '../../model/chat-prompt.js';
import { requestLogger } from '../../obs/log.js';
import { ProtocolError, finalReply, parseInferRequest, sequenceOptions, type ErrorCode, type InferRequest } from '../protocol.js';
import { salvage } from '../replies.js';
import { digestOf, ownerOf, type Owner, type RunningRequest } from '../requests.js';
import type { InboundMessage } from '../transport.js';
import type { HandlerContext, ServedModel } from './context.js';
import { ChunkStream } from '../chunk-stream.js';

export function handleInfer(ctx: HandlerContext, m: InboundMessage, fleet: boolean): void {
  if (ctx.stopped) return; // the broker redelivers QoS 1 to a live member of the group
  // an empty payload is how a retained message is cleared: not a request, so no invalid_json
  if (m.payload.length === 0) {
    ctx.log.debug({ topic: m.topic, client: m.clientId, retain: m.retain }, 'empty message (a retained request being cleared?): not a request');
    return;
  }
  if (m.payload.length > ctx.maxPayload) {
    return ctx.replies.reject(m, null, undefined, fleet, 'payload_too_large', `request is ${m.payload.length} bytes; the limit is ${ctx.maxPayload}`, 'invalid');
  }
  if (m.retain) {
    // a broker keeps a retained request and hands it to every new subscriber: run, it would run again
    // at every restart of the device (docs/PROTOCOL.md "Delivery")
    const partial = salvage(m.payload);
    return ctx.replies.reject(m, partial?.id ?? null, partial, fleet, 'invalid_request', 'retained requests are not run (the broker would replay one at every restart of the device): publish with retain off, and clear this one with an empty retained message', 'invalid');
  }
  let req: InferRequest;
  try {
    req = parseInferRequest(m.payload);
  } catch (err) {
    const e = err as ProtocolError;
    return ctx.replies.reject(m, e.id, salvage(m.payload), fleet, e.code, e.message, 'invalid');
  }
  const owner = requestOwner(ctx, m, req);
  const log = requestLogger(ctx.log, req.id, owner.key);
  const digest = digestOf(m.payload);
  const seen = ctx.requests.sighting(owner, req.id, digest, m.dup);
  if (seen === 'redelivery') {
    log.info({ dup: m.dup }, 'redelivered request (QoS 1): answered by the first copy, ignored');
    return;
  }
  const reply = ctx.replies.target(m, req, fleet);
  if (typeof reply === 'string') return ctx.replies.reject(m, req.id, req, fleet, 'forbidden_reply_topic', reply, 'invalid');
  if (seen === 'duplicate') {
    log.warn('request id reused');
    return ctx.replies.error(reply, req.id, 'duplicate_id', `request id '${req.id}' was already used by this client (ids must be unique per client among its recent requests): send it with a new id`, 'invalid');
  }
  if (ctx.limiter && !ctx.limiter.take(owner.key)) {
    log.warn('rate limited');
    return ctx.replies.error(reply, req.id, 'rate_limited', `client '${owner.client}' sends requests faster than ${ctx.limiter.limit.messagesPerSecond}/s`, 'rate_limited');
  }
  const served = ctx.served;
  if (req.model !== undefined && !modelNames(served).includes(req.model)) {
    return ctx.replies.error(reply, req.id, 'unknown_model', `this device serves '${served.name}', not '${req.model}'`, 'invalid');
  }
  let promptIds: number[];
  try {
    promptIds = req.messages ? encodeChat(served.tokenizer, req.messages) : served.tokenizer.encode(req.prompt!);
  } catch (err) {
    return ctx.replies.error(reply, req.id, 'invalid_request', `cannot tokenize the prompt: ${(err as Error).message}`, 'invalid');
  }
  const run: RunningRequest = { id: req.id, owner, digest, reply, log };
  const stream = req.stream ?? true;
  let seq = 0;
  const chunks = new ChunkStream(ctx.chunkIntervalMs, (text) => ctx.replies.send(reply, { id: req.id, seq: seq++, text }, 'chunk'));
  try {
    ctx.requests.add(run);
    run.handle = ctx.scheduler.submit({
      id: req.id,
      client: owner.key,
      promptIds,
      options: sequenceOptions(req),
      onText: (text) => {
        if (stream) chunks.push(text);
      },
      onDone: (r) => {
        chunks.flush();
        finished(ctx, run, r);
      },
      onError: (err) => {
        chunks.flush();
        failed(ctx, run, err);
      },
    });
    log.info({ promptTokens: promptIds.length, maxTokens: req.max_tokens, stream, fleet }, 'queued');
    ctx.loadChanged('queued');
  } catch (err) {
    ctx.requests.drop(run);
    const code = codeOf(err);
    ctx.replies.error(reply, req.id, code, (err as Error).message, code === 'busy' ? 'busy' : 'invalid');
  }
}

/**
 * Who a request belongs to. The embedded broker knows the connection (client id and user); an
 * external one does not, so the request's own `client` field, else its reply topic, stands in.
 */
function requestOwner(ctx: HandlerContext, m: InboundMessage, req: InferRequest): Owner {
  if (ctx.knowsClients && m.clientId !== undefined) return ownerOf(m.clientId, m.user);
  return ownerOf(req.client ?? m.responseTopic ?? req.reply_to ?? 'anonymous', undefined);
}

function finished(ctx: HandlerContext, run: RunningRequest, r: JobResult): void {
  ctx.requests.finish(run);
  ctx.loadChanged('ended');
  ctx.replies.send(run.reply, finalReply(run.id, r, ctx.device), 'done');
  const m = ctx.metrics;
  m?.requestFinished(r.finishReason);
  m?.tokensGenerated(r.usage.completionTokens);
  m?.promptTokens(r.usage.promptTokens);
  if (r.usage.completionTokens > 0) m?.timeToFirstToken(r.timings.timeToFirstTokenMs / 1000);
  if (r.timings.decodeTokensPerSecond > 0) m?.decodeRate(r.timings.decodeTokensPerSecond);
  run.log.info({ finish: r.finishReason, usage: r.usage, timings: r.timings }, 'finished');
}

function failed(ctx: HandlerContext, run: RunningRequest, err: Error): void {
  ctx.requests.finish(run);
  ctx.loadChanged('ended');
  const code = codeOf(err);
  run.log.warn({ code, err: err.message }, 'request failed');
  ctx.replies.error(run.reply, run.id, code, err.message, 'error');
}

/** Errors of this kind end a request with this code. */
function codeOf(err: unknown): ErrorCode {
  if (err instanceof ProtocolError) return err.code;
  if (err instanceof BusyError) return 'busy';
  if (err instanceof PromptTooLongError) return 'prompt_too_long';
  if ((err as { code?: string })?.code === 'shutdown') return 'shutdown';
  if (err instanceof RangeError) return 'invalid_request';
  return 'model_error';
}

/** The names a request's `model` field may use for the served model. */
function modelNames(s: ServedModel): string[] {
  const file = basename(s.path);
  return [s.name, ...(s.aliases ?? []), file, file.replace(/\.gguf$/i, ''), 'default'];
}
