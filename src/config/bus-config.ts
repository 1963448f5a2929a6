// Reads the [bus] table of couic.toml into BusOptions: server URLs, publish/consume,
// prefix, compaction threshold, TLS files and one authentication method, every
// problem named by key.
import { resolve } from 'node:path';
import { BUS_DEFAULTS, BUS_LIMITS, type BusAuth, type BusOptions, type BusTlsOptions } from '../replication/bus/bus-options.js';
import type { TableReader } from './table-reader.js';

const SERVER_URL = /^(nats|tls):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$/;

/** Undefined when [bus] is absent. `base` resolves relative file paths. */
export function readBus(table: TableReader | undefined, base: string): BusOptions | undefined {
  if (table === undefined) return undefined;
  const problems = table.problems;
  const path = (key: string): string | undefined => {
    const value = table.nonEmptyString(key);
    return value === undefined ? undefined : resolve(base, value);
  };
  const enabled = table.boolean('enabled') ?? BUS_DEFAULTS.enabled;
  const servers = table.stringArray('servers', checkServerUrl) ?? [];
  const publish = table.boolean('publish') ?? BUS_DEFAULTS.publish;
  const consume = table.boolean('consume') ?? BUS_DEFAULTS.consume;
  const prefix = table.string('prefix') ?? BUS_DEFAULTS.prefix;
  const replicas = table.integer('replicas', BUS_LIMITS.replicas) ?? BUS_DEFAULTS.replicas;
  const compactMinBytes = table.integer('compact_min_bytes', BUS_LIMITS.compactMinBytes) ?? BUS_DEFAULTS.compactMinBytes;
  const wantTls = table.boolean('tls');
  const tls: BusTlsOptions = {};
  const caPath = path('ca');
  const certPath = path('cert');
  const keyPath = path('key');
  if (caPath !== undefined) tls.caPath = caPath;
  if (certPath !== undefined) tls.certPath = certPath;
  if (keyPath !== undefined) tls.keyPath = keyPath;
  const user = table.string('user');
  const password = table.string('password');
  const token = table.string('token');
  const creds = path('creds');
  table.finish();

  if (!BUS_LIMITS.prefix.test(prefix)) {
    problems.invalid(table.keyPath('prefix'), `expected 1-32 characters of letters, digits, "_" or "-", got ${JSON.stringify(prefix)}`);
  }
  const serverProblems = problems.problems.some((p) => p.key.startsWith(table.keyPath('servers')));
  if (enabled && servers.length === 0 && !serverProblems) {
    problems.invalid(table.keyPath('servers'), 'is required: at least one NATS server URL, e.g. ["nats://127.0.0.1:4222"]');
  }
  if (enabled && !publish && !consume) {
    problems.invalid(table.keyPath('publish'), 'publish and consume are both false: the bus would do nothing (set enabled = false instead)');
  }
  if ((certPath === undefined) !== (keyPath === undefined)) {
    const missing = certPath === undefined ? 'cert' : 'key';
    problems.invalid(table.keyPath(missing), `is required when bus.${missing === 'cert' ? 'key' : 'cert'} is set`);
  }
  if (wantTls === false && Object.keys(tls).length > 0) {
    problems.invalid(table.keyPath('tls'), 'is false but ca/cert/key are set: remove them or set tls = true');
  }
  if (wantTls === false && servers.some((url) => url.startsWith('tls://'))) {
    problems.invalid(table.keyPath('tls'), 'is false but a server URL uses tls://');
  }
  const auth = readAuth(table, { user, password, token, creds });

  const options: BusOptions = { enabled, servers, publish, consume, prefix, replicas, compactMinBytes };
  const tlsWanted = wantTls === true || Object.keys(tls).length > 0 || servers.some((url) => url.startsWith('tls://'));
  if (tlsWanted) options.tls = tls;
  if (auth !== undefined) options.auth = auth;
  return options;
}

function checkServerUrl(url: string): string | undefined {
  const match = SERVER_URL.exec(url);
  if (match === null) return `expected a URL like "nats://host:4222" or "tls://host:4222", got ${JSON.stringify(url)}`;
  const port = match[3] === undefined ? 4222 : Number(match[3].slice(1));
  if (port < 1 || port > 65535) return `port must be between 1 and 65535 in ${JSON.stringify(url)}`;
  return undefined;
}

interface AuthKeys {
  readonly user: string | undefined;
  readonly password: string | undefined;
  readonly token: string | undefined;
  readonly creds: string | undefined;
}

function readAuth(table: TableReader, keys: AuthKeys): BusAuth | undefined {
  const problems = table.problems;
  const methods = [
    keys.user !== undefined || keys.password !== undefined ? 'user/password' : undefined,
    keys.token !== undefined ? 'token' : undefined,
    keys.creds !== undefined ? 'creds' : undefined,
  ].filter((m): m is string => m !== undefined);
  if (methods.length > 1) {
    problems.invalid(table.keyPath('user'), `choose one authentication method, got ${methods.join(' and ')}`);
    return undefined;
  }
  if (keys.user !== undefined || keys.password !== undefined) {
    if (keys.user === undefined || keys.user === '') {
      problems.invalid(table.keyPath('user'), 'is required when bus.password is set');
      return undefined;
    }
    if (keys.password === undefined) {
      problems.invalid(table.keyPath('password'), 'is required when bus.user is set');
      return undefined;
    }
    return { kind: 'user', user: keys.user, password: keys.password };
  }
  if (keys.token !== undefined) {
    if (keys.token === '') {
      problems.invalid(table.keyPath('token'), 'must not be empty');
      return undefined;
    }
    return { kind: 'token', token: keys.token };
  }
  if (keys.creds !== undefined) return { kind: 'creds', credsPath: keys.creds };
  return undefined;
}
