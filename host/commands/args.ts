// Shared command-line plumbing: option parsing with clear errors, and error reporting without stacks.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { wispCommand } from '../invocation.js';
import { closest } from './suggest.js';

/** A mistake in how the command was called: printed with exit code 2. */
export class UsageError extends Error {}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseOptions<O extends OptionSpec>(argv: string[], options: O, help: string, allowPositionals = false) {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(help);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(parseErrorLine(err as Error & { code?: string }, options, commandOf(help)));
  }
}

/** "npx wisp ask" from a help text's first line ("usage: wisp ask [options] …"), as the user types it here. */
function commandOf(help: string): string {
  const sub = /^usage:\s+wisp(\s+[a-z][\w-]*)?/.exec(help)?.[1] ?? '';
  return `${wispCommand()}${sub}`;
}

/**
 * One line for node:util parseArgs' errors, in place of its message (which quotes unevenly and
 * suggests `--` for what is nearly always a typo): the option, what was wrong, the nearest option
 * name when one is close, and where the full list is.
 */
export function parseErrorLine(err: Error & { code?: string }, options: OptionSpec, command: string): string {
  const more = `\`${command} --help\` lists the options`;
  // "Option '-n, --max-tokens <value>' argument missing": the long name when the message has one
  const quoted = /'(?:-\w, )?(-{1,2}[^'\s=,]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const opt = quoted ?? '?';
      const names = Object.entries(options).flatMap(([long, o]) => [`--${long}`, ...(o.short ? [`-${o.short}`] : [])]);
      const near = closest(opt, names);
      return `unknown option ${opt}${near ? ` (did you mean ${near}?)` : ''}; ${more}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const long = quoted?.startsWith('--') ? quoted : longName(quoted, options);
      const spec = long ? options[long.slice(2)] : undefined;
      return spec?.type === 'boolean' ? `${long} takes no value; ${more}` : `${long ?? quoted ?? 'an option'} needs a value; ${more}`;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /'([^']*)'/.exec(err.message)?.[1];
      return `unexpected argument${arg !== undefined ? ` '${arg}'` : ''} (${command} takes options only; quote text with spaces); ${more}`;
    }
    default:
      return `${err.message.split('\n')[0]}; ${more}`;
  }
}

function longName(opt: string | undefined, options: OptionSpec): string | undefined {
  if (!opt || opt.startsWith('--')) return opt;
  const entry = Object.entries(options).find(([, o]) => `-${o.short}` === opt);
  return entry ? `--${entry[0]}` : opt;
}

export function intOption(value: string | undefined, name: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

export function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${value}'`);
  return n;
}

/**
 * A GGUF file that ends before its header, its tables or its tensor data say it should: most often a
 * download or copy cut short. (Recognised by the GGUF reader's wording, which host/model/gguf/read.ts keeps
 * exact and tested.)
 */
const TRUNCATED_GGUF = /^GGUF: .*(runs past the end of the file \(\d+ bytes[;)]|bytes left in the file$|are left in the file$|bytes follow the header$)/;

/** Errors print their message only (WISP_DEBUG=1 adds the stack, for bug reports). */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof UsageError) return { message: err.message, exitCode: 2 };
  if (err instanceof Error && err.name === 'GGUFError' && TRUNCATED_GGUF.test(err.message) && !process.env.WISP_DEBUG) {
    return { message: `${err.message}: truncated: download it again and check the sha256`, exitCode: 1 };
  }
  if (err instanceof Error) return { message: process.env.WISP_DEBUG && err.stack ? err.stack : err.message, exitCode: 1 };
  return { message: String(err), exitCode: 1 };
}
