// The daemon's pino logger: JSON (default) or pretty one-liners, to stdout (the journal
// under systemd) or to <dir>/couic.log. The file is reopened on SIGHUP (reopen()), so
// logrotate can move it away and signal the daemon (packaging/logrotate/couic).
// Field names of rule-change logs are fixed in the API services.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import type { LoggingOptions } from '../config/daemon-options.js';

export interface DaemonLogger {
  readonly logger: Logger;
  /** The log file, when logging to one. */
  readonly file?: string;
  /** Reopens the log file by name (after logrotate moved it); nothing for stdout. */
  reopen(): void;
}

export function createDaemonLogger(options: LoggingOptions): DaemonLogger {
  const file = options.dir === undefined ? undefined : join(options.dir, 'couic.log');
  if (options.dir !== undefined) mkdirSync(options.dir, { recursive: true, mode: 0o750 });
  // One SonicBoom for both formats: it alone can reopen its file. Pretty output is
  // formatted in this thread (pino-pretty as a stream, not a transport worker) so it
  // writes through the same reopenable destination.
  const destination = pino.destination({ dest: file ?? 1, sync: options.format === 'pretty', mkdir: false });
  const logger =
    options.format === 'pretty'
      ? pino(
          { level: options.level },
          pinoPretty({ destination, colorize: false, translateTime: 'SYS:standard', singleLine: true, sync: true }),
        )
      : pino({ level: options.level, base: { service: 'couic' } }, destination);
  return {
    logger,
    ...(file !== undefined ? { file } : {}),
    reopen: () => {
      if (file !== undefined) destination.reopen();
    },
  };
}

/** The logger alone (for callers that never rotate). */
export function createLogger(options: LoggingOptions): Logger {
  return createDaemonLogger(options).logger;
}
