// `wisp pack`: a self-contained deployment bundle for an ARM or x86 Linux box (docs/DEPLOY.md).
import { relative } from 'node:path';
import { createProgress, formatBytes } from '../obs/progress.js';
import { pack, type PackResult } from '../pack/pack.js';
import { packTarget } from '../pack/target.js';
import { parseOptions, UsageError } from './args.js';

const HELP = `usage: wisp pack --arch arm64|x64 [--model NAME|PATH] [--with-node VERSION] [-o FILE]

Writes one tarball to copy onto a Linux box and install as a systemd service (docs/DEPLOY.md):
the built host, kernels + manifest, device profiles, the production dependencies for that
platform only (onnxruntime-node's binding for linux/ARCH, no other platform's binaries), a
hardened wisp.service, a config file (/etc/wisp/wisp.env) and install.sh.

  --arch arm64|x64      the target: 64-bit ARM (Raspberry Pi 4/5, Jetson, RK3588) or x86-64 Linux
  -m, --model NAME|PATH also bundle this model (looked up like wisp run's --model) and serve it
  --with-node VERSION   also bundle Node for the target (npm package node-linux-ARCH@VERSION:
                        24, 24.22 or 24.22.3; sha256 checked against host/pack/node-runtimes.json
                        when listed; cached in $WISP_PACK_CACHE or ~/.cache/wisp/runtimes).
                        Without it the device needs Node >= 20 on its PATH.
  --profile NAME        the device profile whose memory budget sets MemoryMax
                        (default: generic-arm64 / generic-x86_64)
  -o, --out FILE        the tarball (default: wisp-VERSION-linux-ARCH.tgz here)`;

function printSummary(r: PackResult): void {
  const rows = r.groups.map((g) => [g.group, `${g.files}`, formatBytes(g.bytes), g.detail]);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i].length), ['contents', 'files', 'size'][i].length));
  const line = (row: string[]) => `  ${row[0].padEnd(w[0])}  ${row[1].padStart(w[1])}  ${row[2].padStart(w[2])}  ${row[3]}`;
  const unpacked = r.groups.reduce((s, g) => s + g.bytes, 0);
  console.log(
    [
      `wisp: wrote ${relative(process.cwd(), r.out) || r.out}: ${formatBytes(r.bytes)} (unpacked ${formatBytes(unpacked)}), bundle ${r.bundleId}`,
      `  sha256 ${r.sha256}`,
      line(['contents', 'files', 'size', '']),
      ...rows.map(line),
      ...(r.leftOut.length
        ? [`  left out: ${r.leftOut.length} native files for other platforms (${formatBytes(r.leftOutBytes)}): ${[...new Set(r.leftOut.map((l) => l.why))].join(', ')}`]
        : []),
      ...(r.node ? [] : ['  no Node runtime inside: the device needs Node >= 20 on its PATH (or pack with --with-node 24)']),
      '',
      'On the device (docs/DEPLOY.md):',
      `  tar xzf ${relative(process.cwd(), r.out) || r.out} && sudo ./${r.top}/install.sh`,
    ].join('\n'),
  );
}

export async function main(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseOptions(
    argv,
    {
      arch: { type: 'string' },
      model: { type: 'string', short: 'm' },
      'with-node': { type: 'string' },
      profile: { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
    HELP,
    true,
  );
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n\n${HELP}`);
  const target = packTarget(v.arch);
  const result = await pack({
    target,
    out: v.out,
    model: v.model,
    withNode: v['with-node'],
    profile: v.profile,
    log: (line) => process.stderr.write(`wisp: ${line}\n`),
    progress: (total) => createProgress(`pack ${target.arch}`, total),
  });
  printSummary(result);
}
