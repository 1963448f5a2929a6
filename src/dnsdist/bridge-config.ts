// Reads couic-dnsdist's TOML into BridgeOptions with the project's config helpers:
// every problem reported at once, by key, and no secret (console key, token) ever
// echoed back in a message.
import { resolve, dirname } from 'node:path';
import { ProblemList } from '../config/problem-list.js';
import { TableReader } from '../config/table-reader.js';
import { readTomlFile } from '../config/toml-file.js';
import { parseHostPort } from '../domain/host-port.js';
import { ConfigError } from '../config/errors.js';
import { decodeConsoleKey } from './console/console-cipher.js';
import { SYNC_DEFAULTS, type BridgeOptions, type CouicEndpoint } from './bridge-options.js';

const INTERVAL = { min: 50, max: 3_600_000 };
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export async function loadBridgeOptions(path: string): Promise<BridgeOptions> {
  const raw = await readTomlFile(path);
  try {
    return compileBridgeOptions(raw, dirname(resolve(path)));
  } catch (error) {
    if (error instanceof ConfigError) throw error.inFile(path);
    throw error;
  }
}

/** `base` resolves relative paths (the config file's directory). */
export function compileBridgeOptions(raw: unknown, base: string): BridgeOptions {
  const problems = new ProblemList();
  const root = TableReader.root(raw, problems);
  const dnsdist = readDnsdist(root.table('dnsdist'), root, problems);
  const couic = readCouic(root.table('couic'), root, problems, base);
  const sync = readSync(root.table('sync'), problems, base);
  const logging = root.table('logging');
  const logLevel = logging?.string('level') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) problems.invalid('logging.level', `expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  logging?.finish();
  root.finish();
  problems.throwIfAny();
  if (dnsdist === undefined || couic === undefined) throw new Error('unreachable: problems were reported');
  return { dnsdist, couic, sync, logLevel };
}

function readDnsdist(table: TableReader | undefined, root: TableReader, problems: ProblemList): BridgeOptions['dnsdist'] | undefined {
  if (table === undefined) {
    problems.invalid(root.keyPath('dnsdist'), 'is required: [dnsdist] with console = "HOST:PORT" and key (as in controlSocket() and setKey())');
    return undefined;
  }
  const consoleText = table.nonEmptyString('console');
  const keyText = table.nonEmptyString('key');
  const actionText = table.string('action') ?? 'drop';
  table.finish();
  let address: { host: string; port: number } | undefined;
  if (consoleText === undefined) {
    if (!problems.hasKey('dnsdist.console')) problems.invalid('dnsdist.console', 'is required: the address of controlSocket(), e.g. "127.0.0.1:5199"');
  } else {
    const parsed = parseHostPort(consoleText);
    if (parsed.ok) address = parsed.value;
    else problems.invalid('dnsdist.console', parsed.reason);
  }
  let key: Uint8Array | undefined;
  if (keyText === undefined) {
    if (!problems.hasKey('dnsdist.key')) problems.invalid('dnsdist.key', 'is required: the base64 key of setKey() (dnsdist makeKey() prints one)');
  } else {
    const decoded = decodeConsoleKey(keyText);
    // The reason never quotes the value: it is a secret.
    if (typeof decoded === 'string') problems.invalid('dnsdist.key', decoded);
    else key = decoded;
  }
  if (actionText !== 'drop' && actionText !== 'refused') problems.invalid('dnsdist.action', `expected "drop" or "refused", got ${JSON.stringify(actionText)}`);
  if (address === undefined || key === undefined) return undefined;
  return { host: address.host, port: address.port, key, action: actionText === 'refused' ? 'refused' : 'drop' };
}

function readCouic(table: TableReader | undefined, root: TableReader, problems: ProblemList, base: string): BridgeOptions['couic'] | undefined {
  if (table === undefined) {
    problems.invalid(root.keyPath('couic'), 'is required: [couic] with socket (or host, port, tls) and token');
    return undefined;
  }
  const path = (key: string): string | undefined => {
    const value = table.nonEmptyString(key);
    return value === undefined ? undefined : resolve(base, value);
  };
  const socket = path('socket');
  const host = table.nonEmptyString('host');
  const port = table.integer('port', { min: 1, max: 65535 });
  const tls = table.boolean('tls');
  const ca = path('ca');
  const cert = path('cert');
  const key = path('key');
  const serverName = table.nonEmptyString('server_name');
  const token = table.nonEmptyString('token');
  table.finish();
  if (token === undefined && !problems.hasKey('couic.token')) problems.invalid('couic.token', 'is required: the token of a couic API client (clientrw to publish)');
  let endpoint: CouicEndpoint | undefined;
  if (socket !== undefined) {
    if (host !== undefined || port !== undefined) problems.invalid('couic.socket', 'is set together with host/port: use the Unix socket or TLS, not both');
    else endpoint = { kind: 'unix', socketPath: socket };
  } else if (host !== undefined || port !== undefined) {
    if (host === undefined) problems.invalid('couic.host', 'is required with couic.port');
    if (port === undefined && !problems.hasKey('couic.port')) problems.invalid('couic.port', 'is required with couic.host');
    if (tls !== true) problems.invalid('couic.tls', 'must be true: the bridge reaches a remote couic over TLS only');
    if (ca === undefined) problems.invalid('couic.ca', 'is required with TLS: the CA certificate that signed the daemon\'s certificate');
    if ((cert === undefined) !== (key === undefined)) problems.invalid(cert === undefined ? 'couic.cert' : 'couic.key', 'cert and key go together (mTLS)');
    if (host !== undefined && port !== undefined && tls === true && ca !== undefined) {
      endpoint = { kind: 'tls', host, port, caPath: ca, ...(cert !== undefined ? { certPath: cert } : {}), ...(key !== undefined ? { keyPath: key } : {}), ...(serverName !== undefined ? { serverName } : {}) };
    }
  } else if (!problems.hasKey('couic.socket')) {
    problems.invalid('couic.socket', 'is required: the daemon\'s Unix socket (or host, port and tls = true)');
  }
  if (endpoint === undefined || token === undefined) return undefined;
  return { endpoint, token };
}

function readSync(table: TableReader | undefined, problems: ProblemList, base: string): BridgeOptions['sync'] {
  const d = SYNC_DEFAULTS;
  const stateFileText = table?.nonEmptyString('state_file');
  const sync = {
    publish: table?.boolean('publish') ?? d.publish,
    consume: table?.boolean('consume') ?? d.consume,
    publishNetmasks: table?.boolean('publish_netmasks') ?? d.publishNetmasks,
    publishSuffixes: table?.boolean('publish_suffixes') ?? d.publishSuffixes,
    pollIntervalMs: table?.integer('poll_interval_ms', INTERVAL) ?? d.pollIntervalMs,
    batchIntervalMs: table?.integer('batch_interval_ms', INTERVAL) ?? d.batchIntervalMs,
    reconnectMinMs: table?.integer('reconnect_min_ms', { min: 10, max: 600_000 }) ?? d.reconnectMinMs,
    reconnectMaxMs: table?.integer('reconnect_max_ms', { min: 10, max: 3_600_000 }) ?? d.reconnectMaxMs,
    stateFile: stateFileText === undefined ? undefined : resolve(base, stateFileText),
    stateSaveIntervalMs: table?.integer('state_save_interval_ms', INTERVAL) ?? d.stateSaveIntervalMs,
  };
  table?.finish();
  if (!sync.publish && !sync.consume) problems.invalid('sync.publish', 'publish and consume are both false: the bridge would do nothing');
  if (sync.reconnectMaxMs < sync.reconnectMinMs) problems.invalid('sync.reconnect_max_ms', `must be at least reconnect_min_ms (${sync.reconnectMinMs})`);
  return sync;
}
