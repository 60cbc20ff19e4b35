// The parts of aedes 2.0.0-beta.1 (pinned in package.json) that wisp's delivery fixes reach into,
// beyond its published types. aedes-patches.ts checks the version at start; a new aedes means
// re-reading lib/client.js, lib/handlers/connect.js and aedes.js against these fields (and
// test/mqtt-delivery.test.ts tells whether they still hold).
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

export const PATCHED_AEDES_VERSION = '2.0.0-beta.1';

/** An aedes-packet Packet as it travels through mqemitter and the session store. */
export interface StoredPacket {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  messageId?: number;
  /** Which broker instance numbered it, and its number there (aedes' dedupe key). */
  brokerId?: string;
  brokerCounter?: number;
  /** The client that published it (absent for the broker's own publishes). */
  clientId?: string;
  /** The matching subscription's No Local flag. */
  nl?: boolean;
  properties?: Record<string, unknown>;
  /** Absolute expiry (ms since the epoch) from the Message Expiry Interval. */
  messageExpiry?: number;
}

export interface SessionStore {
  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: StoredPacket): Promise<void>;
  outgoingUpdate(client: { id: string }, packet: StoredPacket): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: { messageId?: number }): Promise<StoredPacket | undefined>;
  outgoingStream(client: { id: string }): NodeJS.ReadableStream & AsyncIterable<StoredPacket>;
}

export interface AedesClientInternals extends EventEmitter {
  id: string;
  /** 3, 4 or 5 once CONNECT was read. */
  version: number | null;
  _wireVersion: number | null;
  conn: Duplex;
  connecting: boolean;
  connected: boolean;
  connackSent: boolean;
  closed: boolean;
  /** aedes' "the session does not outlive the connection" (v5: Session Expiry 0). */
  clean: boolean;
  /** CONNECT's Clean Start / Clean Session flag. */
  _cleanStart?: boolean;
  /** Set when a DISCONNECT packet arrived. */
  _disconnected: boolean;
  sessionExpiryInterval: number;
  receiveMaximum?: number;
  maximumPacketSize?: number;
  duplicates: Record<string, number>;
  subscriptions: Record<string, { qos: number }>;
  deliver0: (packet: StoredPacket, cb: () => void) => void;
  deliverQoS: (packet: StoredPacket, cb: () => void) => void;
  waitForDrain(cb: (err: Error | null) => void): void;
  _parser: EventEmitter;
  broker: {
    authorizeForward(client: AedesClientInternals, packet: StoredPacket): StoredPacket | null | undefined;
    persistence: SessionStore;
  };
}

/** What aedes.mq is (mqemitter 7): the fields the recursion guard touches. */
export interface MqEmitterInternals {
  /** Messages waiting for a free slot. */
  readonly length: number;
  current: number;
  concurrency: number;
  _do(message: unknown, cb: () => void): unknown;
}
