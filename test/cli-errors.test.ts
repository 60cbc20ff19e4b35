// The pieces behind the CLI's one-line errors: the nearest option name, parseArgs errors turned
// into a line, and the command a hint names (npx wisp in a checkout, wisp when on the PATH).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseErrorLine, type OptionSpec } from '../host/commands/args.js';
import { closest, editDistance } from '../host/commands/suggest.js';
import { wispCommand } from '../host/invocation.js';
import { CLI, ROOT } from './helpers/paths.js';

test('edit distance counts an adjacent swap as one edit', () => {
  assert.is(editDistance('tmp', 'temp'), 1);
  assert.is(editDistance('tmep', 'temp'), 1);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('kitten', 'sitting'), 3);
});

test('closest suggests a near option, a prefix, and nothing for a word far from all', () => {
  const names = ['--temp', '--top-k', '--top-p', '--threads', '--device'];
  assert.is(closest('--tmp', names), '--temp');
  assert.is(closest('--thr', names), '--threads');
  assert.is(closest('--devcie', names), '--device');
  assert.is(closest('--xyz', names), undefined);
});

const OPTIONS: OptionSpec = { temp: { type: 'string' }, chat: { type: 'boolean' }, 'max-tokens': { type: 'string', short: 'n' } };
function lineFor(args: string[], allowPositionals = false): string {
  try {
    parseArgs({ args, options: OPTIONS, allowPositionals, strict: true });
  } catch (err) {
    return parseErrorLine(err as Error & { code?: string }, OPTIONS, 'wisp ask');
  }
  throw new Error('parsed');
}

test('parseArgs errors become one line that names the option and where the list is', () => {
  assert.is(lineFor(['--tmp', '0']), 'unknown option --tmp (did you mean --temp?); `wisp ask --help` lists the options');
  assert.is(lineFor(['-n']), '--max-tokens needs a value; `wisp ask --help` lists the options');
  assert.is(lineFor(['--chat=yes']), '--chat takes no value; `wisp ask --help` lists the options');
  assert.match(lineFor(['stray']), /^unexpected argument 'stray'/);
});

test('hints name npx wisp under npx or in a checkout, wisp when it is on the PATH, else node and the path', () => {
  const outside = mkdtempSync(join(tmpdir(), 'wisp-where-'));
  try {
    assert.is(wispCommand({ env: { npm_command: 'exec', PATH: '' }, cwd: outside }), 'npx wisp');
    assert.is(wispCommand({ env: { PATH: '' }, cwd: ROOT }), 'npx wisp');
    assert.is(wispCommand({ env: { PATH: '' }, cwd: join(ROOT, 'docs') }), 'npx wisp');
    assert.is(wispCommand({ env: { PATH: '' }, argv1: CLI, cwd: outside }), `node ${CLI}`);
    const bin = join(outside, 'bin');
    mkdirSync(bin);
    symlinkSync(CLI, join(bin, 'wisp')); // what npm link / npm install -g make
    assert.is(wispCommand({ env: { PATH: bin }, cwd: outside }), 'wisp');
  } finally {
    rmSync(outside, { recursive: true, force: true });
  }
});

test.run();
