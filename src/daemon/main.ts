// `couic [-c FILE]`: runs the daemon in the foreground until SIGTERM/SIGINT.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadDaemonConfig } from '../config/daemon-config.js';
import { DEFAULT_DAEMON_CONFIG_PATH } from '../config/daemon-options.js';
import { createLogger } from './logger.js';
import { startDaemon } from './couic-daemon.js';
import { detachXdp } from '../dataplane/xdp/xdp-detach.js';
import { DEFAULT_PIN_DIR } from '../dataplane/xdp/xdp-dataplane.js';

async function main(): Promise<number> {
  const args = await yargs(hideBin(process.argv))
    .scriptName('couic')
    .usage('$0 [-c FILE]\n\nRuns the couic daemon in the foreground.')
    .option('config', { alias: 'c', type: 'string', default: DEFAULT_DAEMON_CONFIG_PATH, describe: 'daemon config (TOML)' })
    .option('detach', {
      type: 'boolean',
      default: false,
      describe: 'remove the XDP program from every interface and delete its pinned maps ([xdp] pin_dir), then exit',
    })
    .strict()
    .help()
    .version()
    .parseAsync();

  let options;
  try {
    options = await loadDaemonConfig(args.config);
  } catch (error) {
    process.stderr.write(`couic: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  if (args.detach) {
    const pinDir = options.xdp?.pinDir ?? DEFAULT_PIN_DIR;
    try {
      const { links, maps } = await detachXdp(pinDir);
      process.stdout.write(
        links.length + maps.length === 0
          ? `couic: nothing pinned in ${pinDir}\n`
          : `couic: detached from ${links.length} interface(s)${links.length > 0 ? ` (${links.join(', ')})` : ''}, removed ${maps.length} pinned map(s) from ${pinDir}\n`,
      );
      return 0;
    } catch (error) {
      process.stderr.write(`couic: --detach: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  }
  const logger = createLogger(options.logging);
  let daemon;
  try {
    daemon = await startDaemon(options, logger);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    logger.fatal({ err: error }, `cannot start: ${message}`);
    logger.flush();
    process.stderr.write(`couic: cannot start: ${message}\n`);
    return 1;
  }
  logger.info({ nodeId: daemon.nodeId, pid: process.pid }, 'couic ready');

  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await daemon.stop();
  logger.info('stopped');
  logger.flush();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`couic: fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
