// An MQTT client at the packet level (mqtt-packet over a TCP socket) for what mqtt.js does not let a
// test do: hold PUBACKs to see how many messages a broker leaves unacknowledged, or announce a small
// Maximum Packet Size and see what arrives.
import { connect as tcpConnect, type Socket } from 'node:net';
import { generate, parser, type IConnectPacket, type Packet } from 'mqtt-packet';

export interface RawClient {
  socket: Socket;
  /** Every packet received, in order. */
  packets: Packet[];
  send(packet: Packet): void;
  /** Calls `fn` for every packet received from now on. */
  on(fn: (p: Packet) => void): void;
  /** Resolves with the next received packet that `match` accepts (one already received counts). */
  next(match: (p: Packet) => boolean, timeoutMs?: number): Promise<Packet>;
  close(): void;
}

export async function rawConnect(url: string, connect: Partial<IConnectPacket>): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  const socket = tcpConnect(Number(port), hostname);
  const version = connect.protocolVersion ?? 5;
  const p = parser({ protocolVersion: version });
  const packets: Packet[] = [];
  const waiters: Array<{ match: (p: Packet) => boolean; resolve: (p: Packet) => void }> = [];
  const listeners: Array<(p: Packet) => void> = [];
  p.on('packet', (packet: Packet) => {
    packets.push(packet);
    for (const fn of listeners) fn(packet);
    for (const w of [...waiters]) {
      if (w.match(packet)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(packet);
      }
    }
  });
  socket.on('data', (d) => p.parse(d));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const send = (packet: Packet) => void socket.write(generate(packet, { protocolVersion: version }));
  const client: RawClient = {
    socket,
    packets,
    send,
    on: (fn) => void listeners.push(fn),
    next: (match, timeoutMs = 10_000) => {
      const already = packets.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching packet within ${timeoutMs} ms (got ${packets.map((x) => x.cmd).join(',')})`)), timeoutMs);
        waiters.push({ match, resolve: (x) => (clearTimeout(timer), resolve(x)) });
      });
    },
    close: () => socket.destroy(),
  };
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId: 'raw', ...connect } as IConnectPacket);
  const connack = await client.next((x) => x.cmd === 'connack');
  const code = (connack as { reasonCode?: number; returnCode?: number }).reasonCode ?? (connack as { returnCode?: number }).returnCode;
  if (code) throw new Error(`CONNACK ${code}`);
  return client;
}
