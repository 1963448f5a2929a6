// `couic [-c FILE]`: runs the daemon in the foreground until SIGTERM/SIGINT; SIGHUP
// reopens the log file.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadDaemonConfig } from '../config/daemon-config.js';
import { DEFAULT_DAEMON_CONFIG_PATH } from '../config/daemon-options.js';
import { createDaemonLogger } from './logger.js';
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
  const { logger, reopen } = createDaemonLogger(options.logging);
  // logrotate (packaging/logrotate/couic) moves the file away, then sends SIGHUP.
  process.on('SIGHUP', () => {
    reopen();
    logger.info('log file reopened (SIGHUP)');
  });
  // Stop signals are handled from before the start: one that arrives while starting
  // stops the daemon as soon as it is up, instead of killing it half-started.
  // The first SIGTERM/SIGINT starts a clean stop. Ctrl-C under `npm start` delivers a
  // second SIGINT (terminal and launcher) which must not cut the stop short, so later
  // signals are only logged; a third one forces the exit for a stop that hangs.
  const stopRequested = new Promise<void>((resolve) => {
    let received = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      received += 1;
      if (received === 1) {
        logger.info({ signal }, 'stopping');
        resolve();
      } else if (received === 2) {
        logger.warn({ signal }, 'already stopping; send the signal once more to exit at once');
      } else {
        logger.error({ signal }, 'forced exit during stop');
        logger.flush();
        process.exit(130);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
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
  await stopRequested;
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
