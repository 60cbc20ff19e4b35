// Who may publish and subscribe to what on the embedded broker (docs/PROTOCOL.md topic table,
// DESIGN.md "MQTT protocol"). Pure functions of (role, device, user, topic): the broker calls them
// from aedes's authorize hooks, the service calls replyPrefixFor / mayReplyTo before it publishes a
// reply. The service itself publishes in-process and is not subject to these rules.
import { topics } from './topics.js';
import type { Role } from './users.js';

/** A connected client's principal: its user and role, or 'anonymous' when the broker has no users table. */
export interface Identity {
  clientId: string;
  /** Absent when the broker runs without a users table. */
  username?: string;
  role: Role | 'anonymous';
}

/** Device names are one topic level: no `/`, `+`, `#`, and not starting with `$`. */
export const DEVICE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function checkDeviceName(device: string): void {
  if (!DEVICE_NAME_PATTERN.test(device)) {
    throw new Error(`device name ${JSON.stringify(device)} is not allowed: letters, digits, ".", "_", "-" (it becomes a topic level)`);
  }
}

/** Whether a publish to `topic` is an inference request (what the rate limit counts). */
export function isInferTopic(device: string, topic: string): boolean {
  return topic === topics.infer(device) || topic === topics.fleetPublish;
}

/**
 * Where replies for `user` go: `wisp/<device>/reply/<user>/`. The service's default reply topic for
 * an authenticated request is this prefix + the request id.
 */
export const replyPrefixFor = topics.replyPrefix;

/**
 * Whether the service may publish a reply for `user` to `topic` (a request's MQTT 5 Response Topic
 * or its `reply_to`). For an authenticated user: only under their own reply prefix, so no request
 * can make the device write into someone else's replies or its own control topics. Without a users
 * table (`user` undefined) any topic name is allowed except: the device's own topics other than
 * `reply/…`; any device's `infer`, `cancel`, `status` and `control/…` (a reply there would be a
 * request, a cancel, a fake status or a command to another device); the fleet topics; `$…` topics.
 * So a reply can never come back in as a request, here or on another device.
 */
export function mayReplyTo(device: string, user: string | undefined, topic: string): boolean {
  if (!isTopicName(topic) || topic.startsWith('$')) return false;
  if (user !== undefined) {
    const prefix = replyPrefixFor(device, user);
    return topic.length > prefix.length && topic.startsWith(prefix);
  }
  if (topic.startsWith('wisp/fleet/') || topic === 'wisp/fleet') return false;
  if (isAnyDeviceInput(topic)) return false;
  const own = topics.device(device);
  if (topic === own || topic.startsWith(`${own}/`)) return topic.startsWith(`${own}/reply/`);
  return true;
}

/** wisp/<any device>/infer, /cancel, /status, /control and /control/…: topics a wisp device acts on or owns. */
function isAnyDeviceInput(topic: string): boolean {
  const [root, device, kind, ...rest] = topic.split('/');
  if (root !== 'wisp' || device === undefined || kind === undefined) return false;
  return kind === 'control' || (rest.length === 0 && (kind === 'infer' || kind === 'cancel' || kind === 'status'));
}

/** A topic name a client may publish to: non-empty, no wildcards, no NUL ([MQTT-4.7.3-1..2], [MQTT-1.5.4-2]). */
function isTopicName(topic: string): boolean {
  return topic.length > 0 && Buffer.byteLength(topic) <= 65535 && !/[+#\u0000]/.test(topic);
}

interface Rules {
  publish: string[];
  subscribe: string[];
  retain: boolean;
}

// Delivery checks every message sent to a client (each streamed token), so a principal's rules are
// built once.
const ruleCache = new WeakMap<Identity, { device: string; rules: Rules }>();

function rulesOf(who: Identity, role: Role, device: string): Rules {
  const hit = ruleCache.get(who);
  if (hit && hit.device === device) return hit.rules;
  const rules = rulesFor(role, device, who.username ?? '');
  ruleCache.set(who, { device, rules });
  return rules;
}

/** The topic filters a role may publish to and subscribe under. */
function rulesFor(role: Role, device: string, user: string): Rules {
  const d = topics.device(device);
  const client: Rules = {
    publish: [topics.infer(device), topics.cancel(device), topics.fleetPublish],
    subscribe: [topics.status(device), `${topics.replyPrefix(device, user)}#`],
    // a retained request would be replayed to the service every time it subscribes
    retain: false,
  };
  if (role === 'client') return client;
  return {
    publish: [...client.publish, topics.control(device)],
    subscribe: [`${d}/#`],
    retain: true,
  };
}

/** Why a publish is refused, or null when it is allowed. */
export function publishDenial(who: Identity, device: string, topic: string, retain: boolean): string | null {
  if (who.role === 'anonymous') {
    // No users table: anything but `$…` topics. Stricter than aedes' default, which reserves only
    // `$SYS/`: MQTT 5 §4.7.2 leaves `$` topics to the server ("applications cannot use a topic with a
    // leading $ character for their own purposes"), brokers give some a meaning (Mosquitto's
    // `$CONTROL/…`, EMQX's `$delayed/…`), and no wisp topic starts with `$`, so refusing them all
    // breaks no wisp client and keeps a client from reaching a broker feature through wisp's broker.
    return topic.startsWith('$') ? `topic ${topic} is reserved: $ topics belong to the broker` : null;
  }
  const rules = rulesOf(who, who.role, device);
  if (!rules.publish.some((filter) => topicMatches(filter, topic))) {
    return `role ${who.role} may not publish to ${topic}`;
  }
  if (retain && !rules.retain) return `role ${who.role} may not publish retained messages`;
  return null;
}

/** Why a subscription is refused, or null when every topic it can match is allowed to this client. */
export function subscribeDenial(who: Identity, device: string, filter: string): string | null {
  if (who.role === 'anonymous') return null;
  const rules = rulesOf(who, who.role, device);
  if (rules.subscribe.some((allowed) => filterCovers(allowed, filter))) return null;
  return `role ${who.role} may not subscribe to ${filter}`;
}

/** Whether a message on `topic` may be delivered to this client (checked again at delivery). */
export function mayReceive(who: Identity, device: string, topic: string): boolean {
  if (who.role === 'anonymous') return true;
  return rulesOf(who, who.role, device).subscribe.some((filter) => topicMatches(filter, topic));
}

/** MQTT topic matching of a name against a filter ([MQTT-4.7.1]; `#` also matches the parent level). */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with $
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; ; i++) {
    if (f[i] === '#') return true;
    if (f[i] === undefined || t[i] === undefined) return f[i] === undefined && t[i] === undefined;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
}

/**
 * Whether filter `allowed` matches every topic that filter `filter` can match, so subscribing to
 * `filter` never reaches past `allowed`: `wisp/d/reply/alice/+` is covered by `wisp/d/reply/alice/#`,
 * `wisp/#` and `wisp/+/reply/#` are not.
 */
export function filterCovers(allowed: string, filter: string): boolean {
  const a = allowed.split('/');
  const f = filter.split('/');
  for (let i = 0; ; i++) {
    if (a[i] === '#') return true;
    if (a[i] === undefined || f[i] === undefined) return a[i] === undefined && f[i] === undefined;
    if (f[i] === '#') return false; // reaches any depth; only a `#` here covers that
    if (a[i] === '+') continue; // covers a literal or a `+`
    if (f[i] !== a[i]) return false; // a literal covers only itself
  }
}
