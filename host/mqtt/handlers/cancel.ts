// wisp/<device>/cancel: `{"id": …}` ends one request, `{"client": …}` every request of a client (a
// client's Last Will on an external broker). On the embedded broker a cancel acts only on requests
// of its sender's owner, the same user and client id (docs/PROTOCOL.md "Delivery"). Cancels get no
// reply: the cancelled request's final message (finish_reason "cancelled") is the answer.
import { ProtocolError, parseCancel, type CancelRequest } from '../protocol.js';
import { ownerOf } from '../requests.js';
import type { InboundMessage } from '../transport.js';
import type { HandlerContext } from './context.js';

export function handleCancel(ctx: HandlerContext, m: InboundMessage): void {
  if (m.payload.length === 0) return; // a retained cancel being cleared
  if (m.retain) {
    // stored by the broker and replayed to every new subscriber: never acted on
    ctx.log.warn({ client: m.clientId, topic: m.topic }, 'retained cancel ignored (publish cancels with retain off)');
    return;
  }
  let c: CancelRequest;
  try {
    c = parseCancel(m.payload);
  } catch (err) {
    ctx.log.warn({ client: m.clientId, err: (err as ProtocolError).message }, 'bad cancel message');
    return;
  }
  // the sender's owner key on the embedded broker; undefined on an external one, which cannot say who sent it
  const sender = ctx.knowsClients && m.clientId !== undefined ? ownerOf(m.clientId, m.user) : undefined;
  if ('client' in c) {
    // on the embedded broker only one's own client id (as one's own user)
    if (sender !== undefined && sender.client !== c.client) return;
    const key = sender?.key ?? ownerOf(c.client, undefined).key;
    const n = ctx.scheduler.cancelClient(key);
    ctx.log.info({ client: key, cancelled: n }, 'cancel by client');
    return;
  }
  for (const r of ctx.requests.withId(c.id, sender?.key)) {
    r.log.info('cancel requested');
    r.handle?.cancel();
  }
}
