// wisp/<device>/control/#: operator commands (kernel swap and rollback, model load). None is
// implemented yet: the hot-swap issue fills this handler. Until then every control message is
// refused with one error reply, and only an operator is told that it is not implemented; anyone
// else is told only that control needs the operator role (docs/PROTOCOL.md "Control").
import { salvage } from '../replies.js';
import type { InboundMessage } from '../transport.js';
import type { HandlerContext } from './context.js';

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
  ctx.replies.reject(m, id, partial, false, 'not_implemented', `${m.topic}: control commands are not implemented yet (kernel hot swap will add them)`);
}
