// The `wisp` command as a user runs it: a child process of the built CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLI, MODELS_DIR, ROOT, sharedModel, sharedTokenizer } from './helpers/paths.js';

function wisp(args: string[], env: Record<string, string> = {}, cwd?: string) {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '', WISP_CACHE_DIR: join(tmpdir(), 'wisp-cli-test-cache'), ...env },
    timeout: 120_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'stories260K-greedy.json'), 'utf8')) as { prompt: string; ids: number[]; text: string };

test('wisp run prints the greedy story, then token counts and tok/s', () => {
  const r = wisp(['run', '--model', 'stories260K', '--prompt', 'Once upon a time', '-n', '100', '--temp', '0', '--ignore-eos', '--ids']);
  assert.is(r.code, 0, r.err);
  const [text, ids] = r.out.split('\n').filter(Boolean).length ? [r.out, JSON.parse(r.out.trim().split('\n').at(-1)!)] : ['', []];
  assert.equal(ids, golden.ids.slice(0, 100));
  assert.ok(text.startsWith(`Once upon a time${golden.text.slice(0, 80)}`), text.slice(0, 120));
  assert.match(r.err, /prompt: 5 tokens, [\d.]+ tok\/s \| generated: 100 tokens, [\d.]+ tok\/s/);
});

test('wisp run --engine reference gives the same greedy ids as the default wasm engine', () => {
  const r = wisp(['run', '--model', 'stories260K', '-n', '60', '--temp', '0', '--ignore-eos', '--ids', '--engine', 'reference']);
  assert.is(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out.trim().split('\n').at(-1)!), golden.ids.slice(0, 60));
  assert.match(r.err, /engine: reference/);
  const w = wisp(['run', '--model', 'stories260K', '-n', '60', '--temp', '0', '--ignore-eos', '--ids', '--threads', '2']);
  assert.is(w.code, 0, w.err);
  assert.equal(JSON.parse(w.out.trim().split('\n').at(-1)!), golden.ids.slice(0, 60));
  assert.match(w.err, /engine: wasm \(2 threads/);
});

test('wisp run stops at a stop string and says why', () => {
  const r = wisp(['run', '--model', 'stories260K', '-n', '200', '--temp', '0', '--stop', 'Lily']);
  assert.is(r.code, 0, r.err);
  assert.is(r.out.trim(), 'Once upon a time, there was a little girl named');
  assert.match(r.err, /finish: stop/);
});

test('wisp run with a sampling seed is reproducible', () => {
  const a = wisp(['run', '--model', 'stories260K', '-n', '40', '--temp', '1', '--seed', '7']);
  const b = wisp(['run', '--model', 'stories260K', '-n', '40', '--temp', '1', '--seed', '7']);
  assert.is(a.code, 0, a.err);
  assert.is(a.out, b.out);
});

test('an unknown model says where it looked and how to fix it (exit 1, no stack)', () => {
  const r = wisp(['run', '--model', 'no-such-model']);
  assert.is(r.code, 1);
  assert.match(r.err, /model "no-such-model" not found/);
  assert.match(r.err, /WISP_MODEL_PATH/);
  assert.not.match(r.err, /\n\s+at /);
});

test('bad options and unknown commands are usage errors (exit 2)', () => {
  assert.is(wisp(['run', '--temp', 'hot']).code, 2);
  assert.match(wisp(['run', '--bogus']).err, /unknown option --bogus;/);
  const r = wisp(['frobnicate']);
  assert.is(r.code, 2);
  assert.match(r.err, /unknown command 'frobnicate'/);
});

test('an unknown option is one line that names the nearest option ("did you mean --temp"), not the whole help', () => {
  const r = wisp(['ask', '--tmp', '0', 'x']);
  assert.is(r.code, 2);
  assert.is(r.err.trim().split('\n').length, 1, r.err);
  assert.match(r.err, /^wisp: unknown option --tmp \(did you mean --temp\?\); `[^`]*wisp ask --help` lists the options\n$/);
  assert.match(wisp(['run', '--thread', '2']).err, /did you mean --threads\?/);
  assert.not.match(wisp(['run', '--zzzzzz']).err, /did you mean/);
  const missing = wisp(['run', '--temp']);
  assert.is(missing.code, 2);
  assert.match(missing.err, /^wisp: --temp needs a value; /);
  assert.match(wisp(['rnu']).err, /unknown command 'rnu' \(did you mean 'run'\?\)/);
});

test('wisp --version and -V print the version', () => {
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  for (const flag of ['--version', '-V']) {
    const r = wisp([flag]);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^wisp ${version.replace(/\./g, '\\.')} \\(Node `));
  }
});

test('the test data beside the checkout is on every command\'s search path, without WISP_MODEL_PATH', () => {
  if (!existsSync(join(ROOT, '..', 'shared', 'models', 'stories260K.gguf'))) return;
  const r = wisp(['info', '--model', 'stories260K'], { WISP_MODEL_PATH: '' });
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /shared\/models\/stories260K\.gguf: GGUF v3/);
});

test('--model README.md means ./README.md, and a folder named x.gguf is called a folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-cwd-'));
  try {
    writeFileSync(join(dir, 'README.md'), '# notes\n');
    const r = wisp(['info', '--model', 'README.md'], {}, dir);
    assert.is(r.code, 1);
    assert.match(r.err, new RegExp(`${join(dir, 'README.md')}: magic .* not a GGUF file`));
    mkdirSync(join(dir, 'x.gguf'));
    const d = wisp(['run', '--model', 'x.gguf'], {}, dir);
    assert.is(d.code, 1);
    assert.match(d.err, /model path x\.gguf is a directory, not a GGUF file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated GGUF says to download it again and check the sha256, and the threads line does not come first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-cut-'));
  try {
    const cut = join(dir, 'cut.gguf');
    writeFileSync(cut, readFileSync(sharedModel('stories260K.gguf')).subarray(0, 100_000));
    const r = wisp(['run', '--model', cut]);
    assert.is(r.code, 1);
    assert.match(r.err, /runs past the end of the file .*: truncated: download it again and check the sha256\n$/);
    assert.not.match(r.err, /threads:/);
    assert.is(r.err.trim().split('\n').length, 1, r.err);
    // cut inside the metadata (the vocabulary array) and inside the tensor table: the same advice
    for (const bytes of [3000, 12_000]) {
      writeFileSync(cut, readFileSync(sharedModel('stories260K.gguf')).subarray(0, bytes));
      const c = wisp(['run', '--model', cut]);
      assert.is(c.code, 1);
      assert.match(c.err, /: truncated: download it again and check the sha256\n$/, c.err);
      assert.is(c.err.trim().split('\n').length, 1, c.err);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('convert llama2c on a GGUF file recognises it and says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-conv-'));
  try {
    const r = wisp(['convert', 'llama2c', sharedModel('stories260K.gguf'), '--tokenizer', sharedModel('tok512.bin'), '-o', join(dir, 'o.gguf')]);
    assert.is(r.code, 2);
    assert.match(r.err, /stories260K\.gguf is already a GGUF file, not a llama2\.c checkpoint: nothing to convert/);
    assert.not.ok(existsSync(join(dir, 'o.gguf')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('convert finds a bare checkpoint and tokenizer name in the test data when they are not in the current folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-conv-'));
  try {
    const r = wisp(['convert', 'llama2c', 'stories260K.bin', '--tokenizer', 'tok512.bin', '-o', 'out.gguf'], {}, dir);
    assert.is(r.code, 0, r.err);
    assert.match(r.err, /stories260K\.bin: using .*stories260K\.bin/);
    assert.ok(existsSync(join(dir, 'out.gguf')));
    const missing = wisp(['convert', 'llama2c', 'nope.bin', '--tokenizer', 'tok512.bin', '-o', 'x.gguf'], {}, dir);
    assert.is(missing.code, 2);
    assert.match(missing.err, /checkpoint nope\.bin: no such file here, nor in the model search path/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wisp pull finds a verified copy on the search path and downloads nothing', () => {
  const r = wisp(['pull', 'stories260K'], { WISP_OFFLINE: '1' });
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /stories260K: already present at .*stories260K\.gguf \(sha256 270cba1bd510… verified\); nothing to download/);
});

test('quantize looks its input up as --model does, and says what to do when it is missing', () => {
  const r = wisp(['quantize', 'in.gguf', 'out.gguf', '--type', 'q4_k']);
  assert.is(r.code, 1);
  assert.match(r.err, /^wisp: model "in\.gguf" not found .*: give the path of a \.gguf file, or a catalog name/);
});

test('refuses --chat without a template unless --template is given', () => {
  const r = wisp(['run', '--model', 'stories260K', '--chat', '-p', 'Tell me a story', '-n', '8']);
  assert.is(r.code, 2);
  assert.match(r.err, /stories260K has no chat template \(it is not a chat model\), so --chat is refused: drop --chat .* --template llama2\|chatml\|llama3\|FILE/);
  assert.is(r.out, '');
  const t = wisp(['run', '--model', 'stories260K', '--chat', '--template', 'llama2', '-p', 'Tell me a story', '-n', '8', '--temp', '0']);
  assert.is(t.code, 0, t.err);
  assert.match(t.err, /generated: 8 tokens/);
  assert.match(wisp(['run', '--chat', '--template', 'nosuch']).err, /--template nosuch: not one of llama2, chatml, llama3 and no such file/);
});

test('a bad option with kernel threads is an error at once, not a hang', () => {
  const t0 = Date.now();
  const r = wisp(['run', '--model', 'stories260K', '-t', '2', '-n', 'abc']);
  assert.is(r.code, 2);
  assert.match(r.err, /--max-tokens must be an integer/);
  const c = wisp(['run', '--model', 'stories260K', '-t', '2', '--system', 'x']);
  assert.is(c.code, 2);
  assert.match(c.err, /--system needs --chat/);
  assert.ok(Date.now() - t0 < 60_000);
});

test('a llama2.c v1 ("ak42") checkpoint is refused with how to re-export it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-cli-'));
  try {
    const bad = join(dir, 'v1.bin');
    const head = Buffer.alloc(256);
    head.writeUInt32LE(0x616b3432, 0);
    head.writeInt32LE(1, 4);
    writeFileSync(bad, head);
    const r = wisp(['convert', 'llama2c', bad, '--tokenizer', sharedModel('tok512.bin'), '-o', join(dir, 'out.gguf')]);
    assert.is(r.code, 1);
    assert.match(r.err, /"ak42" v1 export; wisp reads the legacy \(version 0\) export/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wisp bench models prints tok/s and writes JSON, SVG and HTML', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-bench-'));
  try {
    const r = wisp(['bench', 'models', '-m', sharedModel('stories260K.gguf'), '--threads', '1', '--prompt-tokens', '8', '--gen', '8', '--out', dir], { WISP_LLAMACPP: '/nonexistent' });
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /stories260K\.gguf\s+1\s+[\d.]+/);
    const json = JSON.parse(readFileSync(join(dir, 'models.json'), 'utf8')) as { rows: Array<{ wasm: { decodeTokensPerSecond: number } }> };
    assert.ok(json.rows[0].wasm.decodeTokensPerSecond > 0);
    const svg = readFileSync(join(dir, 'models.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<rect x="\d+" y="\d+" width="[\d.]+"/);
    assert.ok(existsSync(join(dir, 'models.html')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a prompt longer than the context is refused with the sizes', () => {
  const r = wisp(['run', '--model', 'stories260K', '--ctx', '8', '--prompt', 'one two three four five six seven eight nine ten']);
  assert.is(r.code, 1);
  assert.match(r.err, /prompt is \d+ tokens; the context holds 8/);
});

test('wisp serve (what npm start runs) serves the default model; wisp ask streams an answer; SIGTERM stops it cleanly', async () => {
  const serve = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--metrics-port', '0', '--device', 'clitest'], {
    env: { ...process.env, WISP_MODEL_PATH: MODELS_DIR ?? '', WISP_LOG_LEVEL: 'warn' },
  });
  let out = '';
  let err = '';
  serve.stdout.on('data', (d) => (out += d));
  serve.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => serve.on('exit', resolve));
  try {
    for (let i = 0; i < 300 && !out.includes('Stop with Ctrl-C'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /serving stories260K \(llama, 5 layers, vocab 512\)/, out + err);
    assert.match(out, /\n {2}threads: \d+ \((profile \S+: |no device profile)/, 'the thread count and where it came from');
    const ask = /npx wisp ask --broker (\S+) --device clitest/.exec(out);
    assert.ok(ask, out);
    assert.match(out, /mosquitto_rr -h 127\.0\.0\.1 -p \d+ -V 5 -t wisp\/clitest\/infer/);
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, 'ask', '--broker', ask![1], '--device', 'clitest', '-n', '40', '--temp', '0', 'Once upon a time']);
      let o = '';
      let e = '';
      p.stdout.on('data', (d) => (o += d));
      p.stderr.on('data', (d) => (e += d));
      p.on('exit', (code) => resolve({ code, out: o, err: e }));
    });
    assert.is(r.code, 0, r.err);
    assert.ok(r.out.startsWith(golden.text.slice(0, 60)), r.out);
    assert.match(r.err, /clitest: 40 tokens, finish: length/);
  } finally {
    serve.kill('SIGTERM');
  }
  assert.is(await exited, 0, err);
});

test('wisp convert and wisp synth write models that wisp info reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-cli-'));
  try {
    const conv = join(dir, 'c.gguf');
    let r = wisp(['convert', 'llama2c', sharedModel('stories260K.bin'), '--tokenizer', sharedModel('tok512.bin'), '-o', conv]);
    assert.is(r.code, 0, r.err);
    assert.ok(existsSync(conv));
    r = wisp(['info', '--model', conv]);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /llama\.embedding_length = 64/);
    const syn = join(dir, 's.gguf');
    r = wisp(['synth', '--shape', '260k', '--type', 'q8_0', '--tokenizer', sharedTokenizer('llama2/tokenizer.bin'), '--layers', '1', '-o', syn]);
    assert.is(r.code, 0, r.err);
    r = wisp(['info', '--model', syn, '--tensors']);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, /tokenizer\.ggml\.tokens = \[.*32000 items\]/);
    assert.match(r.out, /blk\.0\.attn_q\.weight\s+q8_0\s+\[64, 64\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
