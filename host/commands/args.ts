// Shared command-line plumbing: option parsing with clear errors, and error reporting without stacks.
import { parseArgs, type ParseArgsConfig } from 'node:util';

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
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
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

/** Errors print their message only (WISP_DEBUG=1 adds the stack, for bug reports). */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof UsageError) return { message: err.message, exitCode: 2 };
  if (err instanceof Error) return { message: process.env.WISP_DEBUG && err.stack ? err.stack : err.message, exitCode: 1 };
  return { message: String(err), exitCode: 1 };
}
