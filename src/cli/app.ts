// The couicctl application: the yargs command tree wired to an injected context, and
// the single place that turns outcomes into an exit code and one stderr line. main.ts
// feeds it the real process; tests feed it fakes.
import yargs from 'yargs';
import type { Clock } from '../domain/clock.js';
import { mountCheck } from './commands/check/group.js';
import { mountClientsGroup } from './commands/clients/group.js';
import { mountPeersGroup } from './commands/peers/group.js';
import { mountRulesGroup } from './commands/rules/group.js';
import { mountSetsGroup } from './commands/sets/group.js';
import { mountStatsGroup } from './commands/stats/group.js';
import { mountVerb } from './commands/verb.js';
import { watchVerb } from './commands/watch/watch.js';
import { resolveConfigPath } from './config.js';
import type { CliContext, CouicApi, TextSink } from './context.js';
import { describeFailure, EXIT_OK, UsageError } from './errors.js';

/** An open connection to a daemon. */
export interface Connection {
  api: CouicApi;
  /** Where we connect, for error messages (`unix:/run/couic/couic.sock`, `host:2900`). */
  target: string;
  close(): void;
}

export interface AppDeps {
  env: NodeJS.ProcessEnv;
  stdout: TextSink;
  stderr: TextSink;
  stdoutIsTty: boolean;
  clock: Clock;
  readText(path: string): Promise<string>;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  interruptSignal(): AbortSignal;
  /** Opens the connection described by a config file (`explicit` = named by -c or env). */
  connect(configPath: string, explicit: boolean): Promise<Connection>;
  version: string;
}

function buildParser(ctx: CliContext, version: string, onConfig: (path: string | undefined) => void) {
  const parser = yargs()
    .scriptName('couicctl')
    .usage('$0 <command> [options]\n\nManage a couic firewall daemon through its gRPC API.')
    .option('config', {
      alias: 'c',
      type: 'string',
      global: true,
      requiresArg: true,
      describe: 'Config file (default: $COUICCTL_CONFIG, else /etc/couic/couicctl.toml)',
    })
    .middleware((argv) => onConfig(argv.config))
    .strict()
    .exitProcess(false)
    .version(version)
    // bash, or zsh when $SHELL / $ZSH_NAME says zsh (yargs picks the template).
    .completion('completion', 'Print a shell completion script (bash; zsh when $SHELL is zsh)')
    .help()
    .alias('help', 'h')
    .demandCommand(1, 'give a command (clients, drop, ignore, sets, stats, check, peers, watch, completion)')
    .recommendCommands()
    .fail((message, error) => {
      // yargs wraps its own validation problems in YError; anything else came from a handler.
      if (error !== undefined && error !== null && error.name !== 'YError') throw error;
      throw new UsageError(`${message ?? error?.message ?? 'invalid command line'} (see --help)`);
    });
  mountClientsGroup(parser, ctx);
  mountRulesGroup(parser, 'drop', ctx);
  mountRulesGroup(parser, 'ignore', ctx);
  mountSetsGroup(parser, ctx);
  mountStatsGroup(parser, ctx);
  mountCheck(parser, ctx);
  mountPeersGroup(parser, ctx);
  mountVerb(parser, watchVerb, ctx);
  return parser;
}

/** Runs one couicctl invocation; returns the exit code. Never throws. */
export async function runCouicctl(argv: readonly string[], deps: AppDeps): Promise<number> {
  let configOption: string | undefined;
  let connection: Connection | undefined;
  const ctx: CliContext = {
    api: async () => {
      if (connection === undefined) {
        const { path, explicit } = resolveConfigPath(configOption, deps.env);
        connection = await deps.connect(path, explicit);
      }
      return connection.api;
    },
    stdout: deps.stdout,
    stderr: deps.stderr,
    clock: deps.clock,
    readText: deps.readText,
    sleep: deps.sleep,
    interruptSignal: deps.interruptSignal,
    stdoutIsTty: deps.stdoutIsTty,
  };
  const parser = buildParser(ctx, deps.version, (path) => {
    configOption = path;
  });
  try {
    let helpText = '';
    await parser.parseAsync([...argv], {}, (_error, _args, output) => {
      helpText = output;
    });
    if (helpText !== '') deps.stdout.write(helpText.endsWith('\n') ? helpText : `${helpText}\n`);
    return EXIT_OK;
  } catch (error) {
    const failure = describeFailure(error, connection?.target);
    deps.stderr.write(`${failure.line}\n`);
    return failure.exitCode;
  } finally {
    connection?.close();
  }
}
