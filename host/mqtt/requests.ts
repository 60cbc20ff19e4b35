// Who owns a request, and which ids an owner has used. A request belongs to the authenticated user
// and the client id it came from (docs/PROTOCOL.md "Delivery"), so another user who later connects
// with the same client id can neither cancel it nor have their own request with the same id taken
// for a duplicate of it.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { JobHandle } from '../engine/scheduler.js';
import type { ReplyTarget } from './replies.js';

export interface Owner {
  /**
   * `<user>/<client id>` when the broker authenticates users (a user name has no `/`), else the
   * client id: the scheduler's fairness key, and what cancel-by-client and a lost connection act on.
   */
  key: string;
  client: string;
  user?: string;
}

export function ownerOf(client: string, user: string | undefined): Owner {
  return { key: user === undefined ? client : `${user}/${client}`, client, user };
}

export interface RunningRequest {
  id: string;
  owner: Owner;
  /** sha256 of the request's payload: a byte-identical copy while it runs is a redelivery. */
  digest: string;
  handle?: JobHandle;
  reply: ReplyTarget;
  log: Logger;
}

/**
 * What a request's id is to its owner: new; a redelivery of one already taken (the MQTT DUP flag, or
 * the same bytes while that request still runs), answered by the first copy's replies; or a
 * duplicate (the id was used for another request, running or among the last RECENT_IDS finished),
 * answered `duplicate_id`.
 */
export type Sighting = 'new' | 'redelivery' | 'duplicate';

/** Finished (owner, id) pairs remembered, device-wide, oldest forgotten first. */
export const RECENT_IDS = 4096;

export function digestOf(payload: Buffer): string {
  return createHash('sha256').update(payload).digest('base64');
}

export class RequestBook {
  private readonly running = new Map<string, RunningRequest>(); // owner key \0 id
  private readonly recent = new Set<string>(); // finished owner key \0 id, oldest first

  get size(): number {
    return this.running.size;
  }

  sighting(owner: Owner, id: string, digest: string, dup: boolean): Sighting {
    const key = keyOf(owner, id);
    const run = this.running.get(key);
    if (run) return dup || run.digest === digest ? 'redelivery' : 'duplicate';
    if (this.recent.has(key)) return dup ? 'redelivery' : 'duplicate';
    return 'new';
  }

  add(r: RunningRequest): void {
    this.running.set(keyOf(r.owner, r.id), r);
  }

  /** Forgets a request that could not be queued (its id stays free). */
  drop(r: RunningRequest): void {
    this.running.delete(keyOf(r.owner, r.id));
  }

  /** A request ended: its id is remembered among the recent ones. */
  finish(r: RunningRequest): void {
    const key = keyOf(r.owner, r.id);
    this.running.delete(key);
    this.recent.delete(key);
    this.recent.add(key);
    if (this.recent.size > RECENT_IDS) this.recent.delete(this.recent.values().next().value!);
  }

  /** The running requests with this id: the owner's only, or anyone's when `ownerKey` is undefined (an external broker cannot tell). */
  withId(id: string, ownerKey: string | undefined): RunningRequest[] {
    if (ownerKey !== undefined) {
      const r = this.running.get(`${ownerKey}\u0000${id}`);
      return r ? [r] : [];
    }
    return [...this.running.values()].filter((r) => r.id === id);
  }
}

function keyOf(owner: Owner, id: string): string {
  return `${owner.key}\u0000${id}`;
}
