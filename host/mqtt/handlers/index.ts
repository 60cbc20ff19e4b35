// The service's dispatcher: one handler per topic kind, like aedes' lib/handlers (one file per
// packet type). A message goes to the handler of its topic's kind and nowhere else: a control/#
// message can never reach the infer handler, and a topic of no known kind is logged and dropped.
import { topics } from '../topics.js';
import type { InboundMessage } from '../transport.js';
import { handleCancel } from './cancel.js';
import type { HandlerContext } from './context.js';
import { handleControl } from './control.js';
import { handleInfer } from './infer.js';

export type { HandlerContext, ServedModel } from './context.js';

/** The kinds of topic the service listens on (docs/PROTOCOL.md "Topics"); also the metrics label. */
export type TopicKind = 'infer' | 'fleet_infer' | 'cancel' | 'control';

const HANDLERS: Record<TopicKind, (ctx: HandlerContext, m: InboundMessage) => void> = {
  infer: (ctx, m) => handleInfer(ctx, m, false),
  fleet_infer: (ctx, m) => handleInfer(ctx, m, true),
  cancel: handleCancel,
  control: handleControl,
};

/** The kind of a topic this device's service receives, or undefined for any other topic. */
export function topicKind(device: string, topic: string): TopicKind | undefined {
  if (topic === topics.infer(device)) return 'infer';
  if (topic === topics.cancel(device)) return 'cancel';
  if (topic === topics.fleetPublish) return 'fleet_infer';
  const control = topics.control(device).slice(0, -2); // wisp/<device>/control
  if (topic === control || topic.startsWith(`${control}/`)) return 'control';
  return undefined;
}

/** The filters the service subscribes to: one per handler (the fleet one only in a fleet group). */
export function serviceSubscriptions(device: string, fleetGroup?: string): string[] {
  const t = [topics.infer(device), topics.cancel(device), topics.control(device)];
  if (fleetGroup) t.push(topics.fleetInfer(fleetGroup));
  return t;
}

/** Hands a message to its kind's handler; nothing a handler throws escapes (the other clients keep being served). */
export function dispatch(ctx: HandlerContext, m: InboundMessage): void {
  const kind = topicKind(ctx.device, m.topic);
  if (kind === undefined) {
    ctx.log.warn({ topic: m.topic, client: m.clientId }, 'message on a topic the service does not handle: ignored');
    return;
  }
  ctx.metrics?.mqttMessage('in', kind);
  try {
    HANDLERS[kind](ctx, m);
  } catch (err) {
    ctx.log.error({ err, topic: m.topic, kind }, 'message handler failed');
  }
}
