// The continuous-batching scheduler on the real stories260K model: batched streams produce the
// text each request gets alone; queue fairness, busy replies, cancels and failures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EngineSequence } from '../host/engine/forward.js';
import { runToEnd, type TokenModel } from '../host/engine/generate.js';
import { loadModel } from '../host/engine/load-model.js';
import { BusyError, Scheduler, type JobResult, type ScheduledJob } from '../host/engine/scheduler.js';
import type { SequenceOptions } from '../host/engine/sequence.js';
import { openWasm } from './helpers/engines.js';
import { sharedModel } from './helpers/paths.js';

const STORIES = sharedModel('stories260K.gguf');
const { tokenizer } = loadModel(STORIES);
const wasm = await openWasm(STORIES, { contextSize: 256, maxSequences: 4, threads: 2 });
const model = wasm;

const PROMPTS = ['Once upon a time', 'The little dog', 'Lily wanted to', 'One day, Tom', 'The sun was', 'Mom said'];

async function alone(prompt: string, opts: SequenceOptions): Promise<string> {
  return (await runToEnd(model, tokenizer, tokenizer.encode(prompt), opts)).text;
}

interface Outcome {
  chunks: string[];
  result?: JobResult;
  error?: Error;
  calls: number;
}

function job(id: string, client: string, prompt: string, options: SequenceOptions): { job: ScheduledJob; outcome: Outcome; settled: Promise<Outcome> } {
  const outcome: Outcome = { chunks: [], calls: 0 };
  let settle!: (o: Outcome) => void;
  const settled = new Promise<Outcome>((r) => (settle = r));
  return {
    outcome,
    settled,
    job: {
      id,
      client,
      promptIds: tokenizer.encode(prompt),
      options,
      onText: (t) => outcome.chunks.push(t),
      onDone: (r) => {
        outcome.result = r;
        outcome.calls++;
        settle(outcome);
      },
      onError: (e) => {
        outcome.error = e;
        outcome.calls++;
        settle(outcome);
      },
    },
  };
}

test('six greedy requests over four slots: each streams exactly the text it gets alone', async () => {
  const opts = { maxTokens: 40, temperature: 0 };
  const steps: number[] = [];
  const s = new Scheduler(model, tokenizer, { onStep: (n) => steps.push(n) });
  const jobs = PROMPTS.map((p, i) => job(`r${i}`, `c${i % 3}`, p, opts));
  for (const j of jobs) s.submit(j.job);
  const outcomes = await Promise.all(jobs.map((j) => j.settled));
  for (const [i, o] of outcomes.entries()) {
    assert.is(o.calls, 1);
    assert.is(o.error, undefined);
    assert.is(o.chunks.join(''), o.result!.text);
    assert.is(o.result!.text, await alone(PROMPTS[i], opts), `request ${i}`);
  }
  assert.ok(Math.max(...steps) === 4, `the batch grew to the four slots (sizes seen: ${[...new Set(steps)].join(',')})`);
  await s.drained();
});

test('sampled requests with seeds give the same text batched as alone', async () => {
  const opts = (seed: number): SequenceOptions => ({ maxTokens: 30, temperature: 0.8, topK: 40, seed });
  const jobs = PROMPTS.slice(0, 4).map((p, i) => job(`s${i}`, 'c', p, opts(i + 1)));
  const s = new Scheduler(model, tokenizer, { maxQueuePerClient: 8 });
  for (const j of jobs) s.submit(j.job);
  const outcomes = await Promise.all(jobs.map((j) => j.settled));
  for (const [i, o] of outcomes.entries()) assert.is(o.result!.text, await alone(PROMPTS[i], opts(i + 1)));
});

test('fairness: one slot, client A queues four, client B one: B runs second, not fifth', async () => {
  const s = new Scheduler(model, tokenizer, { maxActive: 1 });
  const order: string[] = [];
  const opts = { maxTokens: 3, temperature: 0 };
  const jobs = [...['a1', 'a2', 'a3', 'a4'].map((id) => job(id, 'A', 'Once', opts)), job('b1', 'B', 'Once', opts)];
  for (const j of jobs) {
    const done = j.job.onDone;
    const id = j.job.id;
    j.job.onDone = (r) => {
      order.push(id);
      done(r);
    };
    s.submit(j.job);
  }
  await Promise.all(jobs.map((j) => j.settled));
  assert.equal(order, ['a1', 'b1', 'a2', 'a3', 'a4']);
});

test('a full queue says busy (overall and per client); nothing is dropped silently', async () => {
  const s = new Scheduler(model, tokenizer, { maxActive: 1, maxQueue: 3, maxQueuePerClient: 2 });
  const opts = { maxTokens: 5, temperature: 0 };
  const accepted = [job('x1', 'X', 'Once', opts), job('x2', 'X', 'Once', opts)];
  for (const j of accepted) s.submit(j.job);
  assert.throws(() => s.submit(job('x3', 'X', 'Once', opts).job), (e: Error) => e instanceof BusyError && /client 'X' already has 2 requests waiting/.test(e.message));
  const y = job('y1', 'Y', 'Once', opts);
  s.submit(y.job);
  assert.throws(() => s.submit(job('z1', 'Z', 'Once', opts).job), (e: Error) => e instanceof BusyError && /queue is full/.test(e.message));
  const all = await Promise.all([...accepted, y].map((j) => j.settled));
  for (const o of all) assert.is(o.result!.finishReason, 'length');
});

test('a prompt over the context is refused at submit with prompt_too_long', () => {
  const s = new Scheduler(model, tokenizer);
  const long = Array.from({ length: 300 }, () => 100);
  const j = job('long', 'c', 'x', { maxTokens: 5 });
  j.job.promptIds = long;
  assert.throws(() => s.submit(j.job), (e: Error & { code?: string }) => e.code === 'prompt_too_long');
});

test('cancel: a queued job ends at once, a running one at the next step; each gets one final message', async () => {
  const s = new Scheduler(model, tokenizer, { maxActive: 1 });
  const opts = { maxTokens: 200, temperature: 0, ignoreEos: true };
  const running = job('run', 'c', 'Once upon a time', opts);
  const queued = job('wait', 'd', 'Once upon a time', opts);
  const hRun = s.submit(running.job);
  const hWait = s.submit(queued.job);
  hWait.cancel();
  const q = await queued.settled;
  assert.is(q.result!.finishReason, 'cancelled');
  assert.is(q.result!.usage.completionTokens, 0);
  while (running.outcome.chunks.length < 5) await new Promise((r) => setImmediate(r));
  hRun.cancel();
  hRun.cancel(); // twice is harmless
  const r = await running.settled;
  assert.is(r.result!.finishReason, 'cancelled');
  assert.ok(r.result!.usage.completionTokens < 200);
  assert.is(r.chunks.join(''), r.result!.text);
  await new Promise((res) => setTimeout(res, 20));
  assert.is(r.calls, 1);
  assert.is(q.calls, 1);
});

test('cancelClient ends only that client’s jobs', async () => {
  const s = new Scheduler(model, tokenizer);
  const opts = { maxTokens: 100, temperature: 0, ignoreEos: true };
  const mine = [job('m1', 'gone', 'Once', opts), job('m2', 'gone', 'The', opts)];
  const other = job('o1', 'stays', 'Once', { maxTokens: 20, temperature: 0, ignoreEos: true });
  for (const j of [...mine, other]) s.submit(j.job);
  await new Promise((r) => setImmediate(r));
  assert.is(s.cancelClient('gone'), 2);
  const [a, b, c] = await Promise.all([...mine, other].map((j) => j.settled));
  assert.is(a.result!.finishReason, 'cancelled');
  assert.is(b.result!.finishReason, 'cancelled');
  assert.is(c.result!.finishReason, 'length');
  assert.is(c.result!.usage.completionTokens, 20);
});

test('a failing decode step fails its batch with the error, and the scheduler keeps serving', async () => {
  let failNext = true;
  const flaky: TokenModel<unknown> = Object.create(model);
  flaky.decodeBatch = (states, tokens, positions) => {
    if (failNext) {
      failNext = false;
      throw new Error('kernel trapped: unreachable');
    }
    return model.decodeBatch(states as EngineSequence[], tokens, positions);
  };
  const s = new Scheduler(flaky, tokenizer);
  const first = job('f1', 'c', 'Once', { maxTokens: 10, temperature: 0 });
  s.submit(first.job);
  const o = await first.settled;
  assert.match(o.error!.message, /kernel trapped/);
  const second = job('f2', 'c', 'Once upon a time', { maxTokens: 20, temperature: 0 });
  s.submit(second.job);
  const o2 = await second.settled;
  assert.is(o2.result!.text, await alone('Once upon a time', { maxTokens: 20, temperature: 0 }));
  assert.is(wasm.maxSequences, 4);
});

test('close fails every waiting and running job once and refuses new ones', async () => {
  const s = new Scheduler(model, tokenizer, { maxActive: 1 });
  const opts = { maxTokens: 500, temperature: 0, ignoreEos: true };
  const a = job('a', 'c', 'Once', opts);
  const b = job('b', 'd', 'Once', opts);
  s.submit(a.job);
  s.submit(b.job);
  while (a.outcome.chunks.length < 2) await new Promise((r) => setImmediate(r));
  s.close(new Error('service stopping'));
  const [oa, ob] = await Promise.all([a.settled, b.settled]);
  assert.match(oa.error!.message, /service stopping/);
  assert.match(ob.error!.message, /service stopping/);
  assert.throws(() => s.submit(job('c', 'c', 'Once', opts).job), /service stopping/);
});

test.after(async () => {
  await wasm.close();
});

test.run();
