// The users table of the embedded broker: who may connect, with which password, in which role.
// A JSON file `{ "require_tls": true, "users": { "alice": { "role": "client", "password": "scrypt$<salt>$<hash>" } } }`,
// validated with ajv against USERS_SCHEMA below (the one statement of the format), written by
// `wisp user add`. Passwords are stored as scrypt hashes, never in clear.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type Role = 'client' | 'operator';
export const ROLES: readonly Role[] = ['client', 'operator'];

export interface UserEntry {
  role: Role;
  /** `scrypt$<salt, base64>$<hash, base64>` as `hashPassword()` writes it. */
  password: string;
}

export interface UserTable {
  /** Password logins only over TLS: a CONNECT on a plaintext listener is refused before its password is checked. */
  require_tls?: boolean;
  users: Record<string, UserEntry>;
}

/**
 * User names become a topic level (`wisp/<device>/reply/<user>/…`), so they may not hold `/`, `+`,
 * `#` or anything else that changes what a topic filter means; `$` is left out so no reply topic
 * starts a level like a system topic would.
 */
export const USER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';
const B64 = '[A-Za-z0-9+/]+={0,2}';

export const USERS_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'wisp broker users',
  type: 'object',
  additionalProperties: false,
  required: ['users'],
  properties: {
    $schema: { type: 'string' },
    require_tls: { type: 'boolean' },
    users: {
      type: 'object',
      propertyNames: { pattern: USER_NAME_PATTERN },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['role', 'password'],
        properties: {
          role: { enum: ROLES },
          password: { type: 'string', pattern: `^scrypt\\$${B64}\\$${B64}$` },
        },
      },
    },
  },
} as const;

/** A users file that cannot be read, parsed or validated; `problems` names each bad field. */
export class UsersError extends Error {
  readonly code = 'WISP_USERS_INVALID';
  constructor(message: string, readonly source: string, readonly problems: string[] = []) {
    super(message);
    this.name = 'UsersError';
  }
}

let validator: ValidateFunction | undefined;

/** Validates already-parsed users data; `source` names it in error messages. */
export function parseUsers(data: unknown, source = 'users'): UserTable {
  validator ??= new Ajv({ allErrors: true }).compile(USERS_SCHEMA);
  if (!validator(data)) {
    const problems = (validator.errors ?? []).map((e) => describeError(e, data)).filter((p) => p !== '');
    const list = problems.map((p) => `  - ${p}`).join('\n');
    throw new UsersError(`invalid users file ${source}:\n${list}`, source, problems);
  }
  return data as UserTable;
}

export function loadUsers(path: string): UserTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsersError(`cannot read users file ${path}: ${(err as Error).message}`, path);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsersError(`users file ${path} is not valid JSON: ${(err as Error).message}`, path);
  }
  return parseUsers(data, path);
}

/** "users.alice.role: must be one of client, operator" — the field, then what is wrong with it. */
function describeError(e: ErrorObject, data: unknown): string {
  const parts = e.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const where = parts.length > 0 ? parts.join('.') : 'top level';
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'propertyNames') return ''; // the summary of the pattern error below, which names the user
  if (e.propertyName !== undefined) {
    return `${where}: user name ${JSON.stringify(e.propertyName)} is not allowed (letters, digits, ".", "_", "@", "-"; at most 64; it becomes a topic level)`;
  }
  switch (e.keyword) {
    case 'required':
      return `${where}: missing required field "${String(params.missingProperty)}"`;
    case 'additionalProperties':
      return `${where}: unknown field "${String(params.additionalProperty)}"`;
    case 'enum':
      return `${where}: ${JSON.stringify(valueAt(data, parts))} is not a role (one of ${ROLES.join(', ')})`;
    case 'pattern':
      return parts.at(-1) === 'password'
        ? `${where}: not a password hash of the form scrypt$<salt base64>$<hash base64> (write one with \`wisp user add\`)`
        : `${where}: does not match the expected form`;
    default:
      return `${where}: ${e.message ?? e.keyword}`;
  }
}

function valueAt(data: unknown, parts: string[]): unknown {
  let v: any = data;
  for (const p of parts) v = v?.[p];
  return v;
}

// scrypt cost: N = 2^14, r = 8, p = 1 (16 MiB, tens of ms per check; run on libuv's thread pool
// by the async API, so the broker's event loop never waits on it). The stored form carries salt
// and hash only, so these are fixed; the hash length is the stored hash's length.
const SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

function scryptAsync(password: string | Buffer, salt: Buffer, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$<salt>$<hash>` for a new random salt: what a users file stores. */
export async function hashPassword(password: string): Promise<string> {
  if (password.length === 0) throw new Error('the password is empty');
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, HASH_BYTES);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Whether `password` matches a stored `scrypt$…` hash; the comparison is constant-time. */
export async function verifyPassword(password: string | Buffer, stored: string): Promise<boolean> {
  const [kind, saltB64, hashB64, extra] = stored.split('$');
  if (kind !== 'scrypt' || !saltB64 || !hashB64 || extra !== undefined) return false;
  const expected = Buffer.from(hashB64, 'base64');
  if (expected.length === 0) return false;
  const actual = await scryptAsync(password, Buffer.from(saltB64, 'base64'), expected.length);
  return timingSafeEqual(actual, expected);
}

// Checked against when the user name is unknown, so "no such user" takes as long as "wrong password".
let dummyHash: Promise<string> | undefined;

/**
 * The role of `username` if `password` is right, else null. An unknown user costs one scrypt too,
 * so response time does not tell which user names exist.
 */
export async function checkCredentials(table: UserTable, username: string, password: string | Buffer): Promise<Role | null> {
  const entry = Object.hasOwn(table.users, username) ? table.users[username] : undefined;
  if (!entry) {
    dummyHash ??= hashPassword('wisp: no such user');
    await verifyPassword(password, await dummyHash);
    return null;
  }
  return (await verifyPassword(password, entry.password)) ? entry.role : null;
}
