// A wisp client over mqtt.js: sends one request and streams its reply. Used by `wisp ask` and the
// service benchmark; examples/ has a standalone version to copy from.
import { randomUUID } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { topics, type FinalReply, type ErrorReply, type InferRequest } from './protocol.js';

export interface AskOptions {
  /** wisp/<device>/infer, or the fleet topic when `fleet` is set */
  device: string;
  fleet?: boolean;
  /** The request without its id (one is made up when absent). */
  request: Omit<InferRequest, 'id'> & { id?: string };
  /** Reply topic; default wisp/<device>/reply/[<user>/]<id>. */
  replyTopic?: string;
  onText?(text: string): void;
  /** Gives up when nothing arrives for this long (default 60 s). */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export type AskResult = FinalReply | ErrorReply;

export interface WispClientOptions extends IClientOptions {
  url: string;
}

export class WispClient {
  private constructor(
    readonly mqtt: MqttClient,
    readonly version: 4 | 5,
    readonly username: string | undefined,
  ) {}

  static async connect(o: WispClientOptions): Promise<WispClient> {
    const { url, ...rest } = o;
    const clientId = rest.clientId ?? `wisp-ask-${randomUUID().slice(0, 8)}`;
    const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000, ...rest, clientId });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => {
        // small messages back to back: without this, Nagle + delayed ACK add ~40 ms per request
        (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        resolve();
      });
      client.once('error', (err) => {
        client.end(true);
        reject(new Error(`cannot connect to ${url}: ${err.message}`));
      });
      client.once('close', () => reject(new Error(`cannot connect to ${url}: connection closed`)));
    });
    return new WispClient(client, (rest.protocolVersion ?? 5) === 5 ? 5 : 4, rest.username);
  }

  /** Sends one request and resolves with its final message or error (never rejects for a reply). */
  async ask(o: AskOptions): Promise<AskResult> {
    const id = o.request.id ?? randomUUID();
    const replyTopic = o.replyTopic ?? (o.fleet ? topics.reply('fleet', id) : topics.reply(o.device, id, this.username));
    const correlation = Buffer.from(id);
    const request: InferRequest = { ...o.request, id, ...(this.version === 4 ? { reply_to: replyTopic } : {}) };
    let timer: NodeJS.Timeout | undefined;
    let onMessage: ((topic: string, payload: Buffer) => void) | undefined;
    try {
      return await new Promise<AskResult>((resolve, reject) => {
        const idle = o.idleTimeoutMs ?? 60_000;
        const arm = () => {
          clearTimeout(timer);
          timer = setTimeout(() => reject(new Error(`no reply for ${id} within ${idle} ms (is a wisp device serving ${o.fleet ? 'the fleet' : o.device}?)`)), idle);
        };
        onMessage = (topic, payload) => {
          if (topic !== replyTopic) return;
          let msg: { seq?: number; text?: string; done?: boolean };
          try {
            msg = JSON.parse(payload.toString('utf8'));
          } catch {
            return;
          }
          arm();
          if (msg.done) resolve(msg as AskResult);
          else if (typeof msg.text === 'string') o.onText?.(msg.text);
        };
        this.mqtt.on('message', onMessage);
        o.signal?.addEventListener('abort', () => void this.cancel(o.device, id), { once: true });
        arm();
        this.mqtt
          .subscribeAsync(replyTopic, { qos: 1 })
          .then((granted) => {
            if (granted.some((g) => g.qos > 2)) throw new Error(`the broker refused the subscription to ${replyTopic}`);
            return this.mqtt.publishAsync(o.fleet ? topics.fleetPublish : topics.infer(o.device), JSON.stringify(request), {
              qos: 1,
              ...(this.version === 5 ? { properties: { responseTopic: replyTopic, correlationData: correlation } } : {}),
            });
          })
          .catch(reject);
      });
    } finally {
      clearTimeout(timer);
      if (onMessage) this.mqtt.removeListener('message', onMessage);
      await this.mqtt.unsubscribeAsync(replyTopic).catch(() => {});
    }
  }

  /**
   * Sends one kernel command to wisp/<device>/control/kernels (an operator's: docs/PROTOCOL.md,
   * Control) and resolves with its one reply (the command's, or an error reply).
   */
  async control(device: string, command: Record<string, unknown> & { command: string }, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    const id = `k-${randomUUID().slice(0, 12)}`;
    const replyTopic = topics.reply(device, id, this.username);
    let onMessage: ((topic: string, payload: Buffer) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<Record<string, unknown>>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no reply to '${command.command}' within ${timeoutMs / 1000} s (is a wisp device serving as ${device}?)`)), timeoutMs);
        onMessage = (topic, payload) => {
          if (topic !== replyTopic) return;
          try {
            resolve(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
          } catch {
            // not ours
          }
        };
        this.mqtt.on('message', onMessage);
        this.mqtt
          .subscribeAsync(replyTopic, { qos: 1 })
          .then((granted) => {
            if (granted.some((g) => g.qos > 2)) throw new Error(`the broker refused the subscription to ${replyTopic}`);
            const body = { ...command, id, ...(this.version === 4 ? { reply_to: replyTopic } : {}) };
            return this.mqtt.publishAsync(`${topics.device(device)}/control/kernels`, JSON.stringify(body), {
              qos: 1,
              ...(this.version === 5 ? { properties: { responseTopic: replyTopic } } : {}),
            });
          })
          .catch((err: Error & { code?: number }) =>
            reject(err.code === 0x87 ? new Error(`the broker refused the '${command.command}' command: kernel commands need the operator role (user ${this.username ?? '(none)'})`) : err),
          );
      });
    } finally {
      clearTimeout(timer);
      if (onMessage) this.mqtt.removeListener('message', onMessage);
      await this.mqtt.unsubscribeAsync(replyTopic).catch(() => {});
    }
  }

  cancel(device: string, id: string): Promise<unknown> {
    return this.mqtt.publishAsync(topics.cancel(device), JSON.stringify({ id }), { qos: 1 });
  }

  close(): Promise<void> {
    return this.mqtt.endAsync();
  }
}
