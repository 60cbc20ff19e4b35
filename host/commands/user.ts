// `wisp user add|remove|list`: the embedded broker's users file (host/mqtt/users.ts) — names, roles
// and scrypt-hashed passwords. The password never goes on the command line (it would sit in shell
// history and `ps`): it is asked for on a terminal, or read as the first line of stdin.
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { ROLES, USER_NAME_PATTERN, hashPassword, loadUsers, parseUsers, type Role, type UserTable } from '../mqtt/users.js';
import { UsageError, parseOptions } from './args.js';

const HELP = `usage: wisp user add NAME --role client|operator [--file users.json]
       wisp user remove NAME [--file users.json]
       wisp user list [--file users.json]

Edits the users file of the embedded MQTT broker (default ./users.json; created by 'add').
'add' asks for the password twice on a terminal, or reads the first line of stdin:
  printf '%s\\n' "$PW" | wisp user add alice --role client
Adding a user that exists replaces their role and password.
Roles: client (infer, cancel, status, own replies), operator (also control/#, all of wisp/<device>/#).`;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(
    argv,
    { role: { type: 'string', short: 'r' }, file: { type: 'string', short: 'f' } },
    HELP,
    true,
  );
  const [action, name, ...extra] = positionals;
  const file = v.file ?? 'users.json';
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}\n\n${HELP}`);
  switch (action) {
    case 'add': {
      if (!name) throw new UsageError(`user add: which user?\n\n${HELP}`);
      if (!v.role || !(ROLES as readonly string[]).includes(v.role)) {
        throw new UsageError(`user add: --role must be one of ${ROLES.join(', ')}`);
      }
      if (!new RegExp(USER_NAME_PATTERN).test(name)) {
        throw new UsageError(`user add: ${JSON.stringify(name)} cannot be a user name (letters, digits, ".", "_", "@", "-"; at most 64): it becomes a topic level`);
      }
      const table: UserTable = existsSync(file) ? loadUsers(file) : { users: {} };
      const password = await readPassword();
      const next: UserTable = { ...table, users: { ...table.users, [name]: { role: v.role as Role, password: await hashPassword(password) } } };
      parseUsers(next, file);
      save(file, next);
      console.error(`wisp: ${Object.hasOwn(table.users, name) ? 'updated' : 'added'} ${name} (${v.role}) in ${file}`);
      return;
    }
    case 'remove': {
      if (!name) throw new UsageError(`user remove: which user?\n\n${HELP}`);
      const table = loadUsers(file);
      if (!Object.hasOwn(table.users, name)) throw new UsageError(`user remove: no user ${name} in ${file}`);
      const { [name]: _removed, ...rest } = table.users;
      save(file, { ...table, users: rest });
      console.error(`wisp: removed ${name} from ${file}`);
      return;
    }
    case 'list': {
      if (name) throw new UsageError(`user list takes no name\n\n${HELP}`);
      const table = loadUsers(file);
      for (const [user, entry] of Object.entries(table.users)) console.log(`${user}\t${entry.role}`);
      return;
    }
    default:
      throw new UsageError(action ? `unknown action '${action}'\n\n${HELP}` : HELP);
  }
}

/** Writes the file whole (temp file + rename), readable by its owner only: it holds password hashes. */
function save(file: string, table: UserTable): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(table, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

async function readPassword(): Promise<string> {
  let password: string;
  if (process.stdin.isTTY) {
    password = await askHidden('password: ');
    if ((await askHidden('again: ')) !== password) throw new UsageError('the passwords do not match');
  } else {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  }
  if (!password) throw new UsageError('the password is empty');
  return password;
}

/** Reads one line from the terminal without echoing it. */
function askHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new UsageError('cancelled'));
        value = ch === '\u007f' || ch === '\b' ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on('data', onData);
  });
}
