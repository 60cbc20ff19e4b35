// aedes reads each connection once per 'readable' event and needs every byte buffered so far; Node 26's
// Readable.read() without a size returns one chunk (host/mqtt/read-whole.ts). A CONNECT that arrives a
// byte at a time must still be answered, on every Node.
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from '../host/mqtt/broker.js';
import { readWholeBuffer } from '../host/mqtt/read-whole.js';

test('read() without a size returns every buffered chunk, then null', () => {
  const d = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  readWholeBuffer(d);
  d.push(Buffer.from([1]));
  d.push(Buffer.from([2, 3]));
  d.push(Buffer.from([4, 5, 6]));
  assert.equal([...(d.read() as Buffer)], [1, 2, 3, 4, 5, 6]);
  assert.is(d.read(), null);
  d.push(Buffer.from([7, 8]));
  assert.equal([...(d.read(1) as Buffer)], [7], 'a read with a size is left as it is');
});

test('a CONNECT sent one byte at a time gets its CONNACK', async () => {
  const broker = await startBroker({ device: 'pieces', tcpPort: 0, log: () => {} });
  try {
    const connectPacket = [0x10, 17, 0, 4, ...Buffer.from('MQTT'), 4, 0x02, 0, 60, 0, 5, ...Buffer.from('piece')];
    const socket = netConnect(broker.ports.tcp!, '127.0.0.1');
    const got = new Promise<number[]>((resolve) => socket.once('data', (d) => resolve([...d])));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    for (const b of connectPacket) {
      socket.write(Buffer.from([b]));
      await new Promise((r) => setTimeout(r, 5));
    }
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('no CONNACK within 3 s'), 3000));
    assert.equal(await Promise.race([got, timeout]), [0x20, 2, 0, 0]);
    socket.destroy();
  } finally {
    await broker.close();
  }
});

test.run();
