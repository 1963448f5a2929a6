// Real dnsdist (Debian's 1.7.3) for integration tests: one instance per call on
// loopback ports, answering every query itself (SpoofAction, no upstream), with its
// console on a fresh key, an optional query-rate DynBlockRulesGroup rule, and no
// security poll (it would query the Internet). Plus the bridge process
// (`bin/couic-dnsdist.js`) and a tiny DNS client that sends from a chosen loopback
// source address (127.0.0.2, 127.0.0.3, ...).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConsoleClient } from '../../src/dnsdist/console/console-client.js';
import { parseDynBlocks, parseRuleNames, type DynBlockRow } from '../../src/dnsdist/dyn-block-table.js';
import { exitInfo, freePort, REPO_ROOT, waitExit } from './daemon.js';
import { makeTempDir, type Scope } from './tmp.js';

export const DNSDIST_BIN = '/usr/bin/dnsdist';
export const BRIDGE_BIN = join(REPO_ROOT, 'bin', 'couic-dnsdist.js');

export interface RateRule {
  /** Queries per second, averaged over `seconds`, above which a source is blocked. */
  readonly qps: number;
  readonly seconds: number;
  readonly reason: string;
  readonly blockSeconds: number;
}

export interface Dnsdist {
  readonly dnsPort: number;
  readonly consolePort: number;
  /** base64 key of setKey(). */
  readonly key: string;
  readonly dir: string;
  /** Runs one console command (a fresh connection each time: survives restarts). */
  console(command: string): Promise<string>;
  dynBlocks(): Promise<DynBlockRow[]>;
  /** Text of the bridge's netmask rule ("Src: ..." column), '' when none. */
  netmaskRule(): Promise<string>;
  output(): string;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

/** Why dnsdist cannot run here (CI installs it through scripts/system-deps.sh), or undefined. */
export function dnsdistMissing(): string | undefined {
  return existsSync(DNSDIST_BIN) ? undefined : `${DNSDIST_BIN} not found: run scripts/system-deps.sh as root (Debian package dnsdist)`;
}

function dnsdistConfig(dnsPort: number, consolePort: number, key: string, rate: RateRule | undefined): string {
  const lines = [
    `setLocal("127.0.0.1:${dnsPort}")`,
    `controlSocket("127.0.0.1:${consolePort}")`,
    `setKey("${key}")`,
    'setSecurityPollSuffix("")',
    // Every query is answered here: the "local responder" the tests query through dnsdist.
    'addAction(AllRule(), SpoofAction("192.0.2.53"))',
  ];
  if (rate !== undefined) {
    lines.push(
      'local couicTestRules = dynBlockRulesGroup()',
      `couicTestRules:setQueryRate(${rate.qps}, ${rate.seconds}, "${rate.reason}", ${rate.blockSeconds}, DNSAction.Refused)`,
      'function maintenance() couicTestRules:apply() end',
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function startDnsdist(t: Scope, options: { rate?: RateRule } = {}): Promise<Dnsdist> {
  const dir = await makeTempDir(t, 'couic-dd-');
  const dnsPort = await freePort();
  const consolePort = await freePort();
  const key = randomBytes(32).toString('base64');
  const configPath = join(dir, 'dnsdist.conf');
  await writeFile(configPath, dnsdistConfig(dnsPort, consolePort, key, options.rate));
  let log = '';
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const proc = spawn(DNSDIST_BIN, ['--supervised', '--disable-syslog', '-C', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (c: Buffer) => (log += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    child = proc;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exitInfo(proc) !== undefined) throw new Error(`dnsdist exited at start:\n${log}`);
      try {
        await run('showVersion()');
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`dnsdist console not up after 20 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const run = async (command: string): Promise<string> => {
    const client = await ConsoleClient.connect({ host: '127.0.0.1', port: consolePort, key: new Uint8Array(Buffer.from(key, 'base64')), connectTimeoutMs: 2_000 });
    try {
      return await client.run(command);
    } finally {
      client.close();
    }
  };
  const kill = async (): Promise<void> => {
    if (child === undefined || exitInfo(child) !== undefined) return;
    child.kill('SIGKILL');
    await waitExit(child, 10_000);
  };
  await launch();
  t.teardown(async () => {
    if (!t.passed) t.log(`dnsdist ${dnsPort} output:\n${log}`);
    await kill();
  });
  return {
    dnsPort,
    consolePort,
    key,
    dir,
    console: run,
    dynBlocks: async () => parseDynBlocks(await run('showDynBlocks()')),
    netmaskRule: async () => {
      const out = await run('showRules()');
      if (!parseRuleNames(out).some((n) => n.startsWith('couic-netmasks-'))) return '';
      return /couic-netmasks-\S+\s+\d+\s+(Src: .*?)\s{2,}/.exec(out)?.[1] ?? '';
    },
    output: () => log,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
  };
}

// ---------------------------------------------------------------- DNS client

function queryPacket(id: number, name: string): Buffer {
  const labels = name.split('.').filter((l) => l !== '');
  const parts: Buffer[] = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of labels) parts.push(Buffer.from([label.length]), Buffer.from(label, 'ascii'));
  parts.push(Buffer.from([0, 0, 1, 0, 1])); // root, type A, class IN
  return Buffer.concat(parts);
}

export type DnsAnswer = 'NOERROR' | 'REFUSED' | 'NXDOMAIN' | 'SERVFAIL' | 'timeout' | `rcode ${number}`;
const RCODES: Record<number, DnsAnswer> = { 0: 'NOERROR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 5: 'REFUSED' };

/** One A query from `source` (a loopback address) to dnsdist; its rcode, or 'timeout'. */
export async function query(dnsPort: number, source: string, name = 'www.example.com', timeoutMs = 1_000): Promise<DnsAnswer> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: source, port: 0 }, () => resolve());
    });
    const id = Math.floor(Math.random() * 0xffff);
    return await new Promise<DnsAnswer>((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), timeoutMs);
      socket.on('message', (msg: Buffer) => {
        if (msg.length < 4 || msg.readUInt16BE(0) !== id) return;
        clearTimeout(timer);
        const rcode = (msg[3] ?? 0) & 0x0f;
        resolve(RCODES[rcode] ?? `rcode ${rcode}`);
      });
      socket.send(queryPacket(id, name), dnsPort, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

/** Sends `count` queries from `source` as fast as the socket takes them (bounded), without waiting for answers. */
export async function flood(dnsPort: number, source: string, count: number): Promise<void> {
  const socket = createSocket('udp4');
  socket.on('message', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: source, port: 0 }, () => resolve());
  });
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => socket.send(queryPacket(i & 0xffff, `f${i}.example.com`), dnsPort, '127.0.0.1', () => resolve()));
  }
  socket.close();
}

// ---------------------------------------------------------------- bridge process

export interface BridgeProcess {
  readonly configPath: string;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<boolean>;
  kill(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface BridgeConfig {
  readonly dnsdist: Dnsdist;
  /** The daemon's Unix socket, or its TLS listener (CA file, certificate name "localhost"). */
  readonly couicSocket?: string;
  readonly couicTls?: { readonly port: number; readonly caPath: string };
  readonly token: string;
  readonly publish: boolean;
  readonly consume: boolean;
  readonly action?: 'drop' | 'refused';
  readonly pollIntervalMs?: number;
  readonly batchIntervalMs?: number;
}

export async function startBridge(t: Scope, config: BridgeConfig): Promise<BridgeProcess> {
  const dir = await makeTempDir(t, 'couic-br-');
  const configPath = join(dir, 'bridge.toml');
  const q = JSON.stringify;
  const toml = [
    '[dnsdist]',
    `console = ${q(`127.0.0.1:${config.dnsdist.consolePort}`)}`,
    `key = ${q(config.dnsdist.key)}`,
    `action = ${q(config.action ?? 'refused')}`,
    '[couic]',
    ...(config.couicTls !== undefined
      ? ['host = "127.0.0.1"', `port = ${config.couicTls.port}`, 'tls = true', `ca = ${q(config.couicTls.caPath)}`, 'server_name = "localhost"']
      : [`socket = ${q(config.couicSocket ?? '')}`]),
    `token = ${q(config.token)}`,
    '[sync]',
    `publish = ${config.publish}`,
    `consume = ${config.consume}`,
    'publish_netmasks = true',
    'publish_suffixes = true',
    `poll_interval_ms = ${config.pollIntervalMs ?? 250}`,
    `batch_interval_ms = ${config.batchIntervalMs ?? 250}`,
    'reconnect_min_ms = 100',
    'reconnect_max_ms = 1000',
    `state_file = ${q(join(dir, 'state.json'))}`,
    'state_save_interval_ms = 200',
    '[logging]',
    'level = "debug"',
  ].join('\n');
  await writeFile(configPath, `${toml}\n`, { mode: 0o600 });
  let log = '';
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const proc = spawn(process.execPath, [BRIDGE_BIN, '-c', configPath], { cwd: REPO_ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (c: Buffer) => (log += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    child = proc;
  };
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child === undefined || exitInfo(child) !== undefined) return;
    child.kill(signal);
    if ((await waitExit(child, 10_000)) === undefined) {
      child.kill('SIGKILL');
      await waitExit(child, 5_000);
    }
  };
  await start();
  t.teardown(async () => {
    if (!t.passed) t.log(`bridge (${config.dnsdist.dnsPort}) output:\n${log.slice(-20_000)}`);
    await stopWith('SIGTERM');
  });
  return {
    configPath,
    output: () => log,
    waitForOutput: async (pattern, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (pattern.test(log)) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return pattern.test(log);
    },
    kill: () => stopWith('SIGKILL'),
    stop: () => stopWith('SIGTERM'),
    start,
  };
}
