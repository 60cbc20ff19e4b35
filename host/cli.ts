#!/usr/bin/env node
// `wisp`: one dispatcher, one module per command in host/commands/.
import { UsageError, describeError } from './commands/args.js';
import { closest } from './commands/suggest.js';
import { WISP_VERSION, wispCommand } from './invocation.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<void> }> }> = {
  run: { summary: 'generate text from a prompt and print it as it comes', load: () => import('./commands/run.js') },
  serve: { summary: 'serve the model over MQTT (embedded broker or --broker URL; what npm start runs)', load: () => import('./commands/serve.js') },
  ask: { summary: 'send a prompt to a serving device over MQTT and stream the answer', load: () => import('./commands/ask.js') },
  pull: { summary: 'download a catalog model (progress, sha256 check, resume)', load: () => import('./commands/pull.js') },
  models: { summary: 'list catalog models and where they are on disk', load: () => import('./commands/models.js') },
  info: { summary: "print a GGUF file's metadata and tensors", load: () => import('./commands/info.js') },
  convert: { summary: 'convert a llama2.c checkpoint + tokenizer to GGUF', load: () => import('./commands/convert.js') },
  bench: { summary: 'benchmark this device (--tune writes a tuned profile; compare, kernels, models, routing, serve): tables, JSON, HTML plots', load: () => import('./commands/bench.js') },
  quantize: { summary: 'write a GGUF with its weight matrices in another type (q8_0, q4_0, q4_k, q6_k, f16, …)', load: () => import('./commands/quantize.js') },
  profile: { summary: 'device profile: detect this device, show the routing plan per layer, validate profile files', load: () => import('./commands/profile.js') },
  synth: { summary: 'write a random-weight llama GGUF at a real shape (benchmark models)', load: () => import('./commands/synth.js') },
  pack: { summary: 'a deployment bundle for an ARM or x86 Linux box: app, deps for that arch, systemd unit, install.sh', load: () => import('./commands/pack.js') },
  user: { summary: 'add, remove or list the embedded MQTT broker\'s users (scrypt-hashed passwords)', load: () => import('./commands/user.js') },
  kernels: { summary: 'kernel modules of a serving device: list, verify, swap, rollback (over MQTT); keygen, sign', load: () => import('./commands/kernels.js') },
};
const PLANNED: string[] = [];

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: wisp <command> [options]   (wisp <command> --help for its options; wisp --version)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    ...(PLANNED.length > 0 ? ['', `not built yet: ${PLANNED.join(', ')}`] : []),
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    console.log(`wisp ${WISP_VERSION} (Node ${process.versions.node})`);
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    if (PLANNED.includes(name)) throw new UsageError(`'wisp ${name}' is not built yet in this version`);
    const near = closest(name, [...Object.keys(COMMANDS), ...PLANNED]);
    const what = name.startsWith('-') ? `unknown option ${name}` : `unknown command '${name}'`;
    throw new UsageError(`${what}${near ? ` (did you mean '${near}'?)` : ''}; \`${wispCommand()} --help\` lists the commands`);
  }
  await (await command.load()).main(rest);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const { message, exitCode } = describeError(err);
  process.stderr.write(`wisp: ${message}\n`);
  process.exitCode = exitCode;
});
