// `wisp kernels list | verify | swap | rollback | keygen | sign`: the kernel modules of a serving
// device over MQTT (an operator's commands on wisp/<device>/control/kernels: docs/PROTOCOL.md,
// Control), and the ed25519 keys that sign modules (docs/KERNELS.md, Signing).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { generateKeyPair, loadPrivateKey, parseSignature, signModule, userKeysDir } from '../kernels/keys.js';
import { KERNEL_FAMILIES } from '../kernels/load.js';
import { WispClient } from '../mqtt/client.js';
import { defaultDeviceName } from '../mqtt/server.js';
import { parseOptions, UsageError } from './args.js';

const HELP = `usage: wisp kernels <command> [options]

On a serving device (over MQTT, as an operator: wisp user add NAME --role operator):
  list                    each kernel family's module in use (flavour, sha256, where it came from),
                          its history, the trusted keys and the swap policy
  verify [FAMILY] FILE    run the checks on a module without swapping it (size, sha256, signature,
                          imports, exports, layout, canary, timing); FAMILY defaults to the file
                          name's first part (matmul.fast.wasm: matmul)
  swap FAMILY FILE        the checks, then the module in use on every kernel thread between two
                          steps; rolled back if it traps or gives NaN/Inf in its first steps
  rollback FAMILY         back to the module the last swap replaced
Keys:
  keygen [--name NAME]    a new ed25519 key pair: NAME.key (private) and NAME.pub in --dir
                          (default ${userKeysDir()}); a device trusts NAME.pub once it is in
                          its trusted keys directory (/etc/wisp/keys)
  sign FILE [--key KEY]   writes FILE.sig (default key: <dir>/operator.key, else dev.key)

options:
      --broker URL        the device's broker (default mqtt://127.0.0.1:1883)
      --device NAME       the device (default: this host's name)
      --user NAME         broker user, an operator (password from $WISP_BROKER_PASSWORD)
      --sig FILE          (verify, swap) the signature (default FILE.sig when it exists)
      --name NAME         (swap) what the status calls the module (default: the file's name)
      --force             (swap) even if it timed slower than the device's limit
      --dir DIR           (keygen, sign) the keys directory
      --json              print the device's reply as JSON`;

const OPTIONS = {
  broker: { type: 'string' },
  device: { type: 'string' },
  user: { type: 'string' },
  sig: { type: 'string' },
  name: { type: 'string' },
  force: { type: 'boolean' },
  key: { type: 'string' },
  dir: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(argv, OPTIONS, HELP, true);
  const [sub, ...args] = positionals;
  const want = (n: number, what: string) => {
    if (args.length !== n) throw new UsageError(`wisp kernels ${sub} takes ${what}\n\n${HELP}`);
  };
  switch (sub) {
    case 'keygen': {
      want(0, 'no arguments');
      const k = generateKeyPair(v.dir ?? userKeysDir(), v.name ?? 'operator');
      console.log(`key ${k.id}\n  private: ${k.privatePath} (keep it secret; it signs modules)\n  public:  ${k.publicPath}\ntrust it on a device: copy ${k.publicPath} to its /etc/wisp/keys/ (or its --trusted-keys directory) and restart wisp`);
      return;
    }
    case 'sign': {
      want(1, 'FILE');
      const keyPath = v.key ?? defaultKey(v.dir ?? userKeysDir());
      const bytes = readFile(args[0]);
      const sig = signModule(bytes, loadPrivateKey(keyPath));
      writeFileSync(`${args[0]}.sig`, `${JSON.stringify(sig)}\n`);
      console.log(`${args[0]}.sig: signed by key ${sig.key} (${keyPath}); sha256 ${sha256(bytes)}`);
      return;
    }
    case 'list':
      want(0, 'no arguments');
      return remote(v, { command: 'list' });
    case 'rollback':
      want(1, 'FAMILY');
      return remote(v, { command: 'rollback', family: args[0] });
    case 'verify':
    case 'swap': {
      if (sub === 'verify' && args.length === 1) args.unshift(familyOfFile(args[0]));
      want(2, 'FAMILY FILE');
      const [family, file] = args;
      const bytes = readFile(file);
      const sigPath = v.sig ?? (existsSync(`${file}.sig`) ? `${file}.sig` : undefined);
      const signature = sigPath ? parseSignature(readFile(sigPath).toString('utf8'), sigPath) : undefined;
      const name = v.name ?? file.split('/').pop()!.replace(/\.wasm$/, '').replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
      return remote(v, {
        command: sub,
        family,
        module: Buffer.from(bytes).toString('base64'),
        sha256: sha256(bytes),
        ...(signature ? { signature } : {}),
        ...(sub === 'swap' ? { name, ...(v.force ? { force: true } : {}) } : {}),
      });
    }
    case undefined:
      throw new UsageError(`which one: list, verify, swap, rollback, keygen or sign?\n\n${HELP}`);
    default:
      throw new UsageError(`unknown subcommand '${sub}'\n\n${HELP}`);
  }
}

/** matmul.fast.wasm -> matmul */
function familyOfFile(file: string): string {
  const first = basename(file).split('.')[0];
  if (!(KERNEL_FAMILIES as readonly string[]).includes(first)) throw new UsageError(`wisp kernels verify ${file}: which family? name it (verify FAMILY FILE) or name the file <family>.<name>.wasm (${KERNEL_FAMILIES.join(', ')})`);
  return first;
}

function defaultKey(dir: string): string {
  for (const n of ['operator.key', 'dev.key']) if (existsSync(join(dir, n))) return join(dir, n);
  throw new UsageError(`no signing key in ${dir}: make one with \`wisp kernels keygen\`, or give --key FILE`);
}

function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new UsageError(`${path}: no such file`);
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>['values'];

async function remote(v: Values, command: Record<string, unknown> & { command: string }): Promise<void> {
  const url = v.broker ?? 'mqtt://127.0.0.1:1883';
  const device = v.device ?? defaultDeviceName();
  const client = await WispClient.connect({ url, ...(v.user !== undefined ? { username: v.user, password: process.env.WISP_BROKER_PASSWORD } : {}) });
  try {
    const r = await client.control(device, command);
    if (v.json) console.log(JSON.stringify(r, null, 2));
    else console.log(describe(r));
    const err = r.error as { code: string; message: string } | undefined;
    if (err || r.ok === false) process.exitCode = 1;
  } finally {
    await client.close();
  }
}

/** The reply as lines a person reads. */
function describe(r: Record<string, unknown>): string {
  const err = r.error as { code: string; message: string } | undefined;
  if (err) return `${r.device}: ${err.code}: ${err.message}`;
  const k = (a: Record<string, unknown>) => `${a.flavour} ${String(a.sha256).slice(0, 12)} (${a.source}, since ${a.since}; ${a.reason})`;
  switch (r.command) {
    case 'list': {
      const fams = r.families as Record<string, { active: Record<string, unknown>; history: Array<Record<string, unknown>>; built: string[]; on_probation: boolean }>;
      const lines = Object.entries(fams).flatMap(([f, x]) => [
        `${f}: ${k(x.active)}${x.on_probation ? ' [on probation]' : ''}`,
        ...x.history.map((h, i) => `  ${i === 0 ? 'before:' : '       '} ${k(h)}`),
        `  built: ${x.built.join(', ')}`,
      ]);
      const keys = (r.trusted_keys as Array<{ id: string; path: string }>).map((t) => `${t.id} (${t.path})`).join(', ') || 'none';
      const p = r.policy as Record<string, unknown>;
      return [...lines, `trusted keys: ${keys}`, `policy: unsigned ${p.allow_unsigned ? 'allowed' : 'refused'}, at most ${p.max_bytes} bytes, at most ${p.max_slowdown}× slower, probation ${p.probation_steps} steps`].join('\n');
    }
    case 'rollback':
      return r.ok ? `${r.family}: rolled back to ${k(r.active as Record<string, unknown>)} (switch ${r.switch_ms} ms)` : `${r.family}: ${r.reason}`;
    default: {
      if (!r.ok) return `${r.family}: refused at ${r.check}: ${String(r.reason).replace(/^\w+: /, '')}`;
      const c = r.canary as { kernels: number; ms: number };
      const t = r.timing as { ratio: number; forced: boolean };
      const checked = `checks passed (${(r.checks as string[]).join(', ')}): signed by ${r.signed_by ?? 'nobody (unsigned allowed)'}, canary ${c.kernels} kernels in ${c.ms} ms, ${t.ratio}× the active module's time${t.forced ? ' (forced)' : ''}; verify ${r.verify_ms} ms`;
      if (r.command === 'verify') return `${r.family}: ${checked}`;
      return `${r.family}: swapped in: ${k(r.active as Record<string, unknown>)}\n  ${checked}; switch ${r.switch_ms} ms after waiting ${r.waited_ms} ms for the step in flight`;
    }
  }
}
