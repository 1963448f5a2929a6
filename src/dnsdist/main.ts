// couic-dnsdist: `couic-dnsdist -c /etc/couic/dnsdist.toml`. Loads the config (every
// problem at once, exit 2), runs the bridge, logs its events as JSON lines (pino), and
// stops cleanly on SIGTERM/SIGINT (the Watch cursor is saved on the way out).
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigError } from '../config/errors.js';
import { Bridge, type BridgeEvent } from './bridge.js';
import { loadBridgeOptions } from './bridge-config.js';
import { ConsoleClient } from './console/console-client.js';
import { ConsoleDnsdistControl } from './console-dnsdist-control.js';
import { GrpcCouicPort } from './couic-grpc.js';
import { NoSuffixRules } from './suffix-port.js';

const USAGE = 'usage: couic-dnsdist -c CONFIG.toml';

async function main(): Promise<number> {
  let configPath: string | undefined;
  try {
    const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    configPath = values.config;
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  if (configPath === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let options;
  try {
    options = await loadBridgeOptions(configPath);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = pino({ level: options.logLevel, base: { service: 'couic-dnsdist' } });
  const couic = await GrpcCouicPort.open(options.couic.endpoint, options.couic.token);
  const bridge = new Bridge(options, {
    couic,
    suffixes: new NoSuffixRules((message) => log.warn({ event: 'suffixes-unsupported' }, message)),
    connectDnsdist: async () =>
      new ConsoleDnsdistControl(await ConsoleClient.connect({ host: options.dnsdist.host, port: options.dnsdist.port, key: options.dnsdist.key })),
    onEvent: (event) => logEvent(log, event),
  });
  log.info(
    { event: 'starting', dnsdist: `${options.dnsdist.host}:${options.dnsdist.port}`, publish: options.sync.publish, consume: options.sync.consume },
    'couic-dnsdist starting',
  );
  await bridge.start();
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ event: 'stopping' }, 'couic-dnsdist stopping');
  await bridge.stop();
  return 0;
}

function logEvent(log: pino.Logger, event: BridgeEvent): void {
  switch (event.type) {
    case 'dnsdist-failed':
    case 'publish-failed':
    case 'state-unreadable':
      log.warn(event, event.type);
      return;
    case 'state-saved':
      log.debug(event, event.type);
      return;
    case 'warning':
      log.warn({ event: 'warning' }, event.message);
      return;
    case 'couic-watch':
      log.info({ event: `watch-${event.event.type}`, rules: event.event.rules }, `watch ${event.event.type}`);
      return;
    case 'couic-watch-ended':
      log.warn({ event: 'watch-ended', error: event.error, retryInMs: event.retryInMs }, 'watch stream ended');
      return;
    default:
      log.info(event, event.type);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`couic-dnsdist: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
