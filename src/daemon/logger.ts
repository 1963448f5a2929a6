// The daemon's pino logger: JSON (default) or pretty one-liners, to stdout or to
// <dir>/couic.log. Field names of rule-change logs are fixed in the API services.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { LoggingOptions } from '../config/daemon-options.js';

export function createLogger(options: LoggingOptions): Logger {
  const file = options.dir === undefined ? undefined : join(options.dir, 'couic.log');
  if (options.dir !== undefined) mkdirSync(options.dir, { recursive: true, mode: 0o750 });
  if (options.format === 'pretty') {
    return pino({
      level: options.level,
      transport: {
        target: 'pino-pretty',
        options: { destination: file ?? 1, colorize: false, translateTime: 'SYS:standard', singleLine: true, sync: true },
      },
    });
  }
  return pino({ level: options.level, base: { service: 'couic' } }, pino.destination({ dest: file ?? 1, sync: false }));
}
