import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('the test harness runs compiled TypeScript suites', () => {
  assert.is(typeof process.version, 'string');
});

test.run();
