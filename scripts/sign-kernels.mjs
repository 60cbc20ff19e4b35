// Signs the built kernel modules with the development key (run by build.mjs after the kernels):
// each kernels/<family>.<flavour>.wasm gets kernels/<file>.sig ({"alg":"ed25519","key","signature"},
// host/kernels/keys.ts reads it) and the key's public half is copied to kernels/dev-key.pub, where a
// device trusts it by default. The private key lives in the user's config dir
// ($WISP_CONFIG_DIR, else $XDG_CONFIG_HOME/wisp, else ~/.config/wisp: keys/dev.key, mode 600), made
// on the first build: never in the checkout or the build output, so neither git nor `wisp pack`
// can carry it off. docs/KERNELS.md, "Signing".
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function devKeyPath() {
  const config = process.env.WISP_CONFIG_DIR || join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'wisp');
  return join(config, 'keys', 'dev.key');
}

function devKey() {
  const path = devKeyPath();
  if (!existsSync(path)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    chmodSync(path, 0o600);
    writeFileSync(path.replace(/\.key$/, '.pub'), createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }));
    console.error(`build: made the development signing key ${path} (kernels/dev-key.pub is its public half)`);
  }
  return createPrivateKey(readFileSync(path, 'utf8'));
}

/** Signs every module kernels/manifest.json lists (a signature that still verifies is kept). */
export function signKernels(root) {
  const dir = join(root, 'kernels');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const key = devKey();
  const pub = createPublicKey(key);
  const id = createHash('sha256').update(pub.export({ format: 'der', type: 'spki' }).subarray(-32)).digest('hex').slice(0, 16);
  const pem = pub.export({ format: 'pem', type: 'spki' });
  const pubPath = join(dir, 'dev-key.pub');
  if (!existsSync(pubPath) || readFileSync(pubPath, 'utf8') !== pem) writeFileSync(pubPath, pem);
  let signed = 0;
  for (const fam of Object.values(manifest.families)) {
    for (const m of Object.values(fam.flavours)) {
      const bytes = readFileSync(join(dir, m.file));
      const sigPath = join(dir, `${m.file}.sig`);
      try {
        const old = JSON.parse(readFileSync(sigPath, 'utf8'));
        if (old.key === id && verify(null, bytes, pub, Buffer.from(old.signature, 'base64'))) continue;
      } catch {
        // none yet, or unreadable: sign
      }
      writeFileSync(sigPath, `${JSON.stringify({ alg: 'ed25519', key: id, signature: sign(null, bytes, key).toString('base64') })}\n`);
      signed++;
    }
  }
  return { signed, key: id };
}
