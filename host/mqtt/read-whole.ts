// aedes reads a connection with one `conn.read(null)` per 'readable' event and expects every byte
// buffered so far. Node ≤ 24 returns them all; Node 26's Readable.read() without a size returns only
// the first buffered chunk and emits no further 'readable' until more data arrives, so a CONNECT
// that came in several TCP segments or WebSocket messages (mqtt.js sends one per field) sat unread
// and the client timed out waiting for CONNACK. This makes read() without a size drain the buffer
// on every Node.
import type { Duplex } from 'node:stream';

export function readWholeBuffer(conn: Duplex): void {
  const readOne = conn.read.bind(conn);
  conn.read = (size?: number | null) => {
    if (size !== undefined && size !== null) return readOne(size);
    const chunks: Buffer[] = [];
    for (let c = readOne(); c !== null; c = readOne()) chunks.push(c as Buffer);
    return chunks.length <= 1 ? (chunks[0] ?? null) : Buffer.concat(chunks);
  };
}
