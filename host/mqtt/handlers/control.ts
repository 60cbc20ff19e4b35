// wisp/<device>/control/kernels (and control/kernels/<command>): an operator's kernel commands —
// list, verify, swap, rollback (docs/PROTOCOL.md "Control", host/mqtt/schemas/kernel-control.schema.json).
// Only an operator (a role the embedded broker's users file gives) may send them; anyone else is told
// only that control needs the operator role. Each command gets one reply (kernel-control-reply
// .schema.json), or one error reply when it is malformed or forbidden. The checks and the swap run on
// the kernel manager (host/kernels/manager.ts): verifying happens on its own thread, the switch at a
// step boundary, so the other requests keep streaming.
import { KernelCommandError, verdictReply, type CandidateRequest } from '../../kernels/manager.js';
import { describeSchemaErrors, validator } from '../protocol.js';
import { salvage, type ReplyTarget } from '../replies.js';
import type { InboundMessage } from '../transport.js';
import type { HandlerContext } from './context.js';

export type KernelCommand = 'list' | 'verify' | 'swap' | 'rollback';

interface KernelControlMessage {
  id: string;
  command: KernelCommand;
  family?: string;
  module?: string;
  sha256?: string;
  signature?: { alg: 'ed25519'; key: string; signature: string };
  name?: string;
  force?: boolean;
  reply_to?: string;
}

export function handleControl(ctx: HandlerContext, m: InboundMessage): void {
  if (m.payload.length === 0 || m.retain) {
    // a retained command would be replayed at every restart; an empty one clears it
    ctx.log.warn({ client: m.clientId, topic: m.topic, retain: m.retain }, 'retained or empty control message ignored');
    return;
  }
  const partial = salvage(m.payload);
  const id = partial?.id ?? null;
  // the role is known only through the embedded broker; over an external one the device cannot
  // tell an operator from anyone else, so it treats every sender as not one
  if (!ctx.knowsClients || m.role !== 'operator') {
    const why = ctx.knowsClients
      ? m.role === 'anonymous'
        ? 'control needs the operator role: serve with a users file (--users) and connect as an operator'
        : `control needs the operator role; user '${m.user}' is a ${m.role}`
      : 'control needs the operator role, which this device cannot check through an external broker';
    return ctx.replies.reject(m, id, partial, false, 'forbidden', why);
  }
  const base = `wisp/${ctx.device}/control/kernels`;
  const topicCommand = m.topic === base ? undefined : m.topic.startsWith(`${base}/`) ? m.topic.slice(base.length + 1) : null;
  if (topicCommand === null) return ctx.replies.reject(m, id, partial, false, 'not_implemented', `${m.topic}: no such control topic; kernel commands go to ${base}`);
  let msg: KernelControlMessage;
  try {
    const data = JSON.parse(m.payload.toString('utf8')) as Record<string, unknown>;
    // control/kernels/<command>: the command from the topic unless the message names it
    if (topicCommand !== undefined && data && typeof data === 'object' && data.command === undefined) data.command = topicCommand;
    const v = validator('kernel-control');
    if (!v(data)) return ctx.replies.reject(m, id, partial, false, 'invalid_request', describeSchemaErrors(v.errors, 'kernel command'));
    msg = data as unknown as KernelControlMessage;
  } catch {
    return ctx.replies.reject(m, id, partial, false, 'invalid_json', 'the kernel command is not JSON');
  }
  if (topicCommand !== undefined && msg.command !== topicCommand) {
    return ctx.replies.reject(m, id, partial, false, 'invalid_request', `the topic says '${topicCommand}', the message says '${msg.command}'`);
  }
  const target = ctx.replies.target(m, msg, false);
  if (typeof target === 'string') return ctx.replies.reject(m, msg.id, partial, false, 'forbidden_reply_topic', target);
  const kernels = ctx.kernels;
  if (!kernels) return ctx.replies.error(target, msg.id, 'not_implemented', `this device runs no wasm kernels (engine ${ctx.served.engine}): nothing to ${msg.command}`);
  const by = m.user ?? m.clientId ?? 'an operator';
  ctx.log.info({ user: m.user, client: m.clientId, req: msg.id, command: msg.command, family: msg.family }, `kernel command: ${msg.command}${msg.family ? ` ${msg.family}` : ''}`);
  run(ctx, msg, by).then(
    (body) => reply(ctx, target, msg, body),
    (err: Error) => {
      if (err instanceof KernelCommandError) return ctx.replies.error(target, msg.id, 'invalid_request', err.message);
      ctx.log.error({ err, req: msg.id, command: msg.command }, 'kernel command failed');
      ctx.replies.error(target, msg.id, 'internal', `${msg.command} failed: ${err.message}`);
    },
  );
}

async function run(ctx: HandlerContext, msg: KernelControlMessage, by: string): Promise<Record<string, unknown>> {
  const k = ctx.kernels!;
  switch (msg.command) {
    case 'list':
      return { ok: true, ...k.list() };
    case 'rollback':
      return k.rollback(msg.family!, by);
    case 'verify':
    case 'swap': {
      const c: CandidateRequest = {
        family: msg.family!,
        module: Buffer.from(msg.module!, 'base64'),
        sha256: msg.sha256!,
        ...(msg.signature ? { signature: msg.signature } : {}),
        ...(msg.name ? { name: msg.name } : {}),
        ...(msg.force ? { force: true } : {}),
      };
      if (msg.command === 'swap') return k.swap(c, by);
      return verdictReply(await k.verify(c));
    }
  }
}

function reply(ctx: HandlerContext, target: ReplyTarget, msg: KernelControlMessage, body: Record<string, unknown>): void {
  ctx.replies.send(target, { id: msg.id, done: true, command: msg.command, ...body, device: ctx.device }, 'control');
}
