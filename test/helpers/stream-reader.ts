// A client in a process of its own, so a test can stop it (SIGSTOP) the way a hung device stops
// reading: mqtt.js v5 with a QoS 1 subscription to its reply topics, N streaming requests, then one
// JSON line on stdout for each final reply and for the connection's end.
//   node stream-reader.js <url> <device> <clientId> <requests> <maxTokens> <correlationBytes>
// prints {"sent":N} once every request is published, {"final":id,"finish_reason":..,"chunks":n}
// per final reply, {"closed":true} when the connection ends.
import mqtt from 'mqtt';

const [url, device, clientId, requests, maxTokens, correlationBytes] = process.argv.slice(2);
const n = Number(requests);
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const client = mqtt.connect(url, { protocolVersion: 5, clientId, reconnectPeriod: 0, connectTimeout: 5000 });
const chunks = new Map<string, number>();
client.on('message', (_topic, payload) => {
  const m = JSON.parse(payload.toString('utf8')) as { id: string; done?: boolean; finish_reason?: string };
  if (!m.done) {
    chunks.set(m.id, (chunks.get(m.id) ?? 0) + 1);
    return;
  }
  say({ final: m.id, finish_reason: m.finish_reason, chunks: chunks.get(m.id) ?? 0 });
});
client.on('close', () => {
  say({ closed: true });
  process.exit(0);
});
client.on('error', (err) => say({ error: err.message }));
client.on('connect', async () => {
  await client.subscribeAsync(`${clientId}/replies/#`, { qos: 1 });
  // big correlation data: it is echoed on every chunk, so a stopped reader's backlog outgrows the
  // kernel's socket buffers within seconds (the same backlog a long generation builds up)
  const correlationData = Buffer.alloc(Number(correlationBytes), 0x63);
  for (let i = 0; i < n; i++) {
    const id = `${clientId}-${i}`;
    await client.publishAsync(`wisp/${device}/infer`, JSON.stringify({ id, prompt: 'Once upon a time', max_tokens: Number(maxTokens), temperature: 0.9, seed: i }), {
      qos: 1,
      properties: { responseTopic: `${clientId}/replies/${id}`, correlationData },
    });
  }
  say({ sent: n });
});
