// Structured logs for the service: pino, one JSON object per line on stderr (stdout stays free for
// command output). Every line names the device; lines about one request also carry `req` (its id)
// and `client` (the MQTT client id), so `grep '"req":"abc"'` follows a request through the host.
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** trace | debug | info | warn | error | fatal | silent; default `WISP_LOG_LEVEL`, else info. */
  level?: string;
  /** Put on every line as `device`. */
  device: string;
  /** Where lines go; default stderr, written synchronously so a crash loses nothing. */
  destination?: DestinationStream;
}

const LEVELS = [...Object.keys(pino.levels.values), 'silent'];

export function createLogger(opts: LoggerOptions): Logger {
  const fromEnv = opts.level === undefined && process.env.WISP_LOG_LEVEL !== undefined;
  const level = (opts.level ?? process.env.WISP_LOG_LEVEL ?? 'info').toLowerCase();
  if (!LEVELS.includes(level)) {
    throw new Error(`${fromEnv ? 'WISP_LOG_LEVEL' : 'log level'} "${level}" is not one of ${LEVELS.join(', ')}`);
  }
  return pino(
    {
      level,
      base: { device: opts.device },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" rather than 30: readable without pino-pretty, and what Loki/jq filters expect
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** A child logger for one request: its lines carry `req` and, when known, `client`. */
export function requestLogger(log: Logger, id: string, clientId?: string): Logger {
  return log.child(clientId === undefined ? { req: id } : { req: id, client: clientId });
}
