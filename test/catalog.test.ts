// The model catalog: the shipped models/catalog.json, its JSON Schema, and the errors a bad one gives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Ajv } from 'ajv';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  CatalogError,
  catalogSchemaPath,
  defaultCatalogPath,
  findCatalogEntry,
  loadCatalog,
  parseCatalog,
  repoRoot,
} from '../host/model/catalog.js';

const shipped = () => JSON.parse(readFileSync(defaultCatalogPath(), 'utf8'));

/** The error parseCatalog throws for `data`. */
function catalogError(data: unknown): CatalogError {
  try {
    parseCatalog(data, 'test-catalog.json');
  } catch (err) {
    assert.instance(err, CatalogError);
    return err as CatalogError;
  }
  throw new Error('expected the catalog to be rejected');
}

test('repoRoot is the checkout holding package.json and models/', () => {
  const root = repoRoot();
  assert.is(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name, 'wisp');
  assert.ok(existsSync(join(root, 'models', 'catalog.json')));
});

test('the shipped catalog validates against models/catalog.schema.json', () => {
  const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(catalogSchemaPath(), 'utf8')));
  assert.ok(validate(shipped()), JSON.stringify(validate.errors));
  const cat = loadCatalog();
  assert.ok(findCatalogEntry(cat, cat.default), 'default names an entry');
});

test('the shipped catalog serves a small instruct model by default, and stories260K offline, with its real hash and size', () => {
  const cat = loadCatalog();
  assert.is(cat.default, 'qwen2.5-0.5b-instruct');
  assert.is(cat.fallback, 'stories260K');
  const e = findCatalogEntry(cat, 'stories260K')!;
  assert.is(e.file, 'stories260K.gguf');
  assert.is(e.url, 'https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf');
  assert.is(e.sha256, '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
  assert.is(e.size, 1185376);
  assert.is(e.license, 'MIT');
});

const sharedModel = process.env.WISP_MODEL_PATH?.split(delimiter)
  .map((d) => join(d, 'stories260K.gguf'))
  .find((p) => existsSync(p));
if (sharedModel) {
  test('the catalog hash and size match the shared stories260K.gguf', () => {
    const e = findCatalogEntry(loadCatalog(), 'stories260K')!;
    assert.is(statSync(sharedModel).size, e.size);
    assert.is(createHash('sha256').update(readFileSync(sharedModel)).digest('hex'), e.sha256);
  });
}

test('the catalog lists the models users pull, each from a well-known GGUF repository, with size and licence', () => {
  const cat = loadCatalog();
  const want = ['qwen2.5-0.5b-instruct', 'llama-3.2-1b-instruct', 'qwen3-0.6b', 'gemma-3-1b-it', 'smollm2-360m-instruct'];
  for (const name of want) {
    const e = findCatalogEntry(cat, name)!;
    assert.ok(e, name);
    assert.match(e.url, /^https:\/\/huggingface\.co\/(Qwen|bartowski|ggml-org|HuggingFaceTB)\/[^/]+-GGUF\/resolve\/main\/[^/]+\.gguf$/, name);
    assert.ok(e.url.endsWith(`/${e.file}`), `${name}: the URL ends with the file`);
    assert.ok(e.quant === 'Q4_K_M' || e.quant === 'Q8_0', `${name}: ${e.quant}`);
    assert.ok(e.license.length > 0 && e.size > 100e6, name);
    // no hub publisher states a sha256 in a form the catalog could copy: recorded on first download instead
    assert.is(e.sha256, undefined, `${name}: sha256 only where the publisher states it`);
    assert.is(e.size_approximate, true, `${name}: a rounded size`);
  }
});

test('findCatalogEntry matches names case-insensitively and accepts the file name', () => {
  const cat = loadCatalog();
  assert.is(findCatalogEntry(cat, 'STORIES260k')?.name, 'stories260K');
  assert.is(findCatalogEntry(cat, 'stories260K.gguf')?.name, 'stories260K');
  assert.is(findCatalogEntry(cat, 'nonesuch'), undefined);
});

test('a catalog entry without a size is rejected, naming the entry and the field; one without sha256 is accepted', () => {
  const data = shipped();
  delete data.models[0].size;
  const err = catalogError(data);
  assert.is(err.code, 'WISP_CATALOG_INVALID');
  assert.match(err.message, 'test-catalog.json');
  assert.match(err.message, `models[0] ("${data.models[0].name}"): missing required field "size"`);
  const unhashed = shipped();
  delete unhashed.models.at(-1).sha256;
  assert.is(parseCatalog(unhashed).models.at(-1)!.sha256, undefined);
});

test('a sha256 that is not 64 hex digits is rejected, naming the field', () => {
  const data = shipped();
  const i = data.models.findIndex((m: { name: string }) => m.name === 'stories260K');
  data.models[i].sha256 = `XYZ${data.models[i].sha256.slice(3)}`;
  const err = catalogError(data);
  assert.match(err.message, `models[${i}] ("stories260K").sha256`);
  assert.match(err.message, '64 lower-case hex digits');
});

test('every problem in a bad catalog is reported at once', () => {
  const data = shipped();
  data.models[0].size = -5;
  data.models[0].url = 'ftp://x';
  data.models[0].extra = true;
  const err = catalogError(data);
  assert.match(err.message, '.size');
  assert.match(err.message, '.url');
  assert.match(err.message, 'unknown field "extra"');
  assert.is(err.problems.length, 3);
});

test('a default or fallback that names no entry is rejected', () => {
  const data = shipped();
  data.default = 'nonesuch';
  data.fallback = 'nothing';
  assert.match(catalogError(data).message, 'default: "nonesuch" is not the name of any model');
  assert.match(catalogError(data).message, 'fallback: "nothing" is not the name of any model');
});

test('two entries with the same name are rejected', () => {
  const data = shipped();
  data.models.push({ ...data.models[0], file: 'other.gguf' });
  const n = data.models.length - 1;
  assert.match(catalogError(data).message, `models[${n}] ("${data.models[0].name}"): "${data.models[0].name.toLowerCase()}" is already used by models[0]`);
});

test('loadCatalog names the file when it is not JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wisp-catalog-'));
  try {
    const path = join(dir, 'catalog.json');
    writeFileSync(path, '{ "default": ');
    assert.throws(() => loadCatalog(path), (err: Error) => err instanceof CatalogError && err.message.includes(path) && /not valid JSON/.test(err.message));
    assert.throws(() => loadCatalog(join(dir, 'missing.json')), (err: Error) => err instanceof CatalogError && /cannot read/.test(err.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
