// Kernel signing keys (ed25519, node:crypto): making a key pair, signing a module's bytes, and the
// device's trusted keys. A signature travels beside the module as `<file>.sig`:
// {"alg": "ed25519", "key": "<key id>", "signature": "<base64>"}; the key id is the first 16 hex
// digits of the sha256 of the raw 32-byte public key. Trusted keys are the `*.pub` files (SPKI PEM)
// in the trusted directories: by default /etc/wisp/keys (the deployment's, docs/DEPLOY.md), the
// user's config dir (`<config>/keys`) and the built kernels/ (the development key that signed them,
// `dev-key.pub`). docs/KERNELS.md, "Signing", says how an operator makes and trusts their own.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { kernelsDir } from './load.js';

/** The user's wisp config dir: $WISP_CONFIG_DIR, else $XDG_CONFIG_HOME/wisp, else ~/.config/wisp. */
export function wispConfigDir(): string {
  return process.env.WISP_CONFIG_DIR || join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'wisp');
}

/** Where `wisp kernels keygen` writes and `sign` looks by default; also trusted. */
export function userKeysDir(): string {
  return join(wispConfigDir(), 'keys');
}

/** The deployment's trusted keys (docs/DEPLOY.md reserves it). */
export const SYSTEM_KEYS_DIR = '/etc/wisp/keys';

export function defaultTrustedDirs(): string[] {
  return [SYSTEM_KEYS_DIR, userKeysDir(), kernelsDir()];
}

export interface ModuleSignature {
  alg: 'ed25519';
  key: string;
  signature: string;
}

export function keyId(publicKey: KeyObject): string {
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** A new key pair written as DIR/NAME.key (PKCS#8 PEM, mode 600) and DIR/NAME.pub (SPKI PEM); refuses to overwrite. */
export function generateKeyPair(dir: string, name: string): { privatePath: string; publicPath: string; id: string } {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`key name '${name}': use letters, digits, '.', '_', '-'`);
  const privatePath = join(dir, `${name}.key`);
  const publicPath = join(dir, `${name}.pub`);
  if (existsSync(privatePath) || existsSync(publicPath)) throw new Error(`${privatePath} or ${publicPath} exists already: pick another --name, or remove them first`);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(privatePath, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  chmodSync(privatePath, 0o600);
  writeFileSync(publicPath, publicKey.export({ format: 'pem', type: 'spki' }));
  return { privatePath, publicPath, id: keyId(publicKey) };
}

export function loadPrivateKey(path: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`no private key at ${path}: make one with \`wisp kernels keygen\` or give --key FILE`);
  }
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is a ${key.asymmetricKeyType} key; kernel signatures are ed25519`);
  return key;
}

/** The signature of `bytes` by `privateKey`, as a .sig file holds it. */
export function signModule(bytes: Uint8Array, privateKey: KeyObject): ModuleSignature {
  return { alg: 'ed25519', key: keyId(createPublicKey(privateKey)), signature: sign(null, bytes, privateKey).toString('base64') };
}

/** A trusted public key and where it came from. */
export interface TrustedKey {
  id: string;
  key: KeyObject;
  path: string;
}

/** Every *.pub ed25519 key in `dirs` (missing dirs are skipped; an unreadable key file is skipped with a note). */
export function loadTrustedKeys(dirs: readonly string[], note?: (msg: string) => void): TrustedKey[] {
  const keys: TrustedKey[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.pub')).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const path = join(dir, n);
      try {
        const key = createPublicKey(readFileSync(path, 'utf8'));
        if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key`);
        const id = keyId(key);
        if (!keys.some((k) => k.id === id)) keys.push({ id, key, path });
      } catch (err) {
        note?.(`trusted key ${path} skipped: ${(err as Error).message}`);
      }
    }
  }
  return keys;
}

/** The trusted key that made `sig` over `bytes`, or why none did. */
export function checkSignature(bytes: Uint8Array, sig: ModuleSignature, trusted: readonly TrustedKey[]): { key: TrustedKey } | { refused: string } {
  if (sig.alg !== 'ed25519') return { refused: `signature algorithm '${sig.alg}' is not ed25519` };
  const key = trusted.find((k) => k.id === sig.key);
  if (!key) return { refused: `signed by key ${sig.key}, which this device does not trust (trusted: ${trusted.map((k) => k.id).join(', ') || 'none'})` };
  let ok = false;
  try {
    ok = verify(null, bytes, key.key, Buffer.from(sig.signature, 'base64'));
  } catch {
    ok = false;
  }
  return ok ? { key } : { refused: `the signature does not verify with key ${sig.key} (${key.path}): the module or its signature was altered` };
}

/** Parses a .sig file's text. */
export function parseSignature(text: string, where: string): ModuleSignature {
  let s: Partial<ModuleSignature>;
  try {
    s = JSON.parse(text) as Partial<ModuleSignature>;
  } catch {
    throw new Error(`${where} is not a wisp signature (JSON with alg, key, signature)`);
  }
  if (typeof s.key !== 'string' || typeof s.signature !== 'string' || s.alg !== 'ed25519') throw new Error(`${where} is not a wisp signature (JSON with alg "ed25519", key, signature)`);
  return s as ModuleSignature;
}
