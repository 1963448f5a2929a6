// Loads couicctl's TOML config (`-c FILE`, else $COUICCTL_CONFIG, else
// /etc/couic/couicctl.toml) into a checked, fully defaulted object. Every mistake
// names its key, and relative paths are taken from the config file's directory so a
// config next to a dev checkout works from any working directory.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { CliConfigError } from './errors.js';

export const DEFAULT_CONFIG_PATH = '/etc/couic/couicctl.toml';
export const CONFIG_ENV_VAR = 'COUICCTL_CONFIG';
export const DEFAULT_SOCKET = '/run/couic/couic.sock';
export const DEFAULT_CLIENT_FILE = '/var/lib/couic/rbac/clients/couicctl.toml';
export const DEFAULT_PORT = 2900;

export interface LocalCliConfig {
  mode: 'local';
  /** Path of the daemon's Unix socket. */
  socket: string;
  token: string;
}

export interface RemoteCliConfig {
  mode: 'remote';
  host: string;
  port: number;
  tls: boolean;
  token: string;
  /** PEM paths: CA to trust (system roots when absent), client certificate and key for mTLS. */
  ca?: string;
  cert?: string;
  key?: string;
  /** TLS name to verify when `host` is an IP or another alias of the server. */
  serverName?: string;
}

export type CliConfig = LocalCliConfig | RemoteCliConfig;

const KNOWN_KEYS = new Set(['mode', 'socket', 'client_file', 'host', 'port', 'tls', 'token', 'ca', 'cert', 'key', 'server_name']);

/** Which file to read: the `-c` option, then the environment, then the default. */
export function resolveConfigPath(option: string | undefined, env: NodeJS.ProcessEnv): { path: string; explicit: boolean } {
  if (option !== undefined && option !== '') return { path: option, explicit: true };
  const fromEnv = env[CONFIG_ENV_VAR];
  if (fromEnv !== undefined && fromEnv !== '') return { path: fromEnv, explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}

async function readToml(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const hint = (error as NodeJS.ErrnoException).code === 'EACCES' ? ' (run as root or as the couic user)' : '';
    throw new CliConfigError(`cannot read ${what} ${path}: ${describeReadError(error)}${hint}`);
  }
  try {
    return parse(text);
  } catch (error) {
    const detail = error instanceof TomlError ? `line ${error.line}, column ${error.column}: ${firstLine(error.message)}` : String(error);
    throw new CliConfigError(`${what} ${path} is not valid TOML: ${detail}`);
  }
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/** Collects every wrong key before failing, so one run shows all of them. */
class KeyChecker {
  readonly problems: string[] = [];
  constructor(private readonly table: Record<string, unknown>) {}

  string(key: string): string | undefined {
    const value = this.table[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') {
      this.problems.push(`${key}: expected a non-empty string`);
      return undefined;
    }
    return value;
  }

  boolean(key: string): boolean | undefined {
    const value = this.table[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      this.problems.push(`${key}: expected true or false`);
      return undefined;
    }
    return value;
  }

  port(key: string): number | undefined {
    const value = this.table[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
      this.problems.push(`${key}: expected an integer port between 1 and 65535`);
      return undefined;
    }
    return value;
  }

  require(key: string, mode: string): void {
    if (this.table[key] === undefined) this.problems.push(`${key}: required in ${mode} mode`);
  }
}

/** Reads and checks the config; `explicit` = the user named the file (so it must exist). */
export async function loadCliConfig(path: string, explicit = true): Promise<CliConfig> {
  let table: Record<string, unknown>;
  try {
    table = await readToml(path, 'config');
  } catch (error) {
    // Without a config anywhere, talk to the local daemon with its default paths.
    if (!explicit && error instanceof CliConfigError && error.message.endsWith('no such file')) {
      return { mode: 'local', socket: DEFAULT_SOCKET, token: await defaultClientToken(path) };
    }
    throw error;
  }
  const base = dirname(resolve(path));
  const fail = (problems: string[]): never => {
    throw new CliConfigError(`config ${path}: ${problems.join('; ')}`);
  };
  const unknown = Object.keys(table).filter((key) => !KNOWN_KEYS.has(key));
  const check = new KeyChecker(table);
  for (const key of unknown) check.problems.push(`${key}: unknown key (expected one of ${[...KNOWN_KEYS].join(', ')})`);

  const mode = table['mode'] ?? 'local';
  if (mode !== 'local' && mode !== 'remote') fail([`mode: expected "local" or "remote", got ${JSON.stringify(mode)}`]);
  const pathKey = (key: string): string | undefined => {
    const value = check.string(key);
    return value === undefined ? undefined : resolve(base, value);
  };
  const socket = pathKey('socket');
  const clientFile = pathKey('client_file');
  const host = check.string('host');
  const port = check.port('port');
  const tls = check.boolean('tls');
  const token = check.string('token');
  const ca = pathKey('ca');
  const cert = pathKey('cert');
  const key = pathKey('key');
  const serverName = check.string('server_name');

  if (mode === 'remote') {
    check.require('host', 'remote');
    check.require('token', 'remote');
    const hasCert = table['cert'] !== undefined;
    if (hasCert !== (table['key'] !== undefined)) {
      const [missing, present] = hasCert ? ['key', 'cert'] : ['cert', 'key'];
      check.problems.push(`${missing}: required with ${present} (a client certificate and its key go together)`);
    }
  }
  if (check.problems.length > 0) fail(check.problems);

  if (mode === 'local') {
    return {
      mode: 'local',
      socket: socket ?? DEFAULT_SOCKET,
      token: token ?? (await readClientToken(clientFile ?? DEFAULT_CLIENT_FILE)),
    };
  }
  const remote: RemoteCliConfig = {
    mode: 'remote',
    host: host ?? '',
    port: port ?? DEFAULT_PORT,
    tls: tls ?? true,
    token: token ?? '',
  };
  if (ca !== undefined) remote.ca = ca;
  if (cert !== undefined) remote.cert = cert;
  if (key !== undefined) remote.key = key;
  if (serverName !== undefined) remote.serverName = serverName;
  return remote;
}

/** The token of a daemon client file (`name`, `group`, `token`), as used in local mode. */
export async function readClientToken(clientFile: string): Promise<string> {
  const table = await readToml(clientFile, 'client_file');
  const token = table['token'];
  if (typeof token !== 'string' || token === '') {
    throw new CliConfigError(`client_file ${clientFile}: token: expected a non-empty string`);
  }
  return token;
}

/** Local defaults when no config file exists; a failure says both what was tried. */
async function defaultClientToken(configPath: string): Promise<string> {
  try {
    return await readClientToken(DEFAULT_CLIENT_FILE);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CliConfigError(`no config file ${configPath} (give one with -c FILE or $${CONFIG_ENV_VAR}), and the local default failed: ${reason}`);
  }
}
