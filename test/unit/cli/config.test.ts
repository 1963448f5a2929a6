// Loading couicctl's config file: defaults, both modes, token from the client file,
// and errors that name the offending key.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { CONFIG_ENV_VAR, DEFAULT_CONFIG_PATH, loadCliConfig, resolveConfigPath } from '../../../src/cli/config.js';
import { clientOptionsFromConfig, hostTarget } from '../../../src/cli/connection.js';
import { CliConfigError } from '../../../src/cli/errors.js';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'couicctl-config-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('config path: -c wins over the environment, which wins over the default', (t) => {
  t.deepEqual(resolveConfigPath('/a.toml', { [CONFIG_ENV_VAR]: '/b.toml' }), { path: '/a.toml', explicit: true });
  t.deepEqual(resolveConfigPath(undefined, { [CONFIG_ENV_VAR]: '/b.toml' }), { path: '/b.toml', explicit: true });
  t.deepEqual(resolveConfigPath(undefined, {}), { path: DEFAULT_CONFIG_PATH, explicit: false });
  t.deepEqual(resolveConfigPath('', { [CONFIG_ENV_VAR]: '' }), { path: DEFAULT_CONFIG_PATH, explicit: false });
});

test('local mode reads the token from client_file, relative to the config file', async (t) => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'couicctl-client.toml'), 'name = "couicctl"\ngroup = "admin"\ntoken = "0b7e4b3c-1111-4222-8333-444455556666"\n');
    const path = join(dir, 'couicctl.toml');
    await writeFile(path, 'mode = "local"\nsocket = "run/couic.sock"\nclient_file = "couicctl-client.toml"\n');
    const config = await loadCliConfig(path);
    t.deepEqual(config, { mode: 'local', socket: join(dir, 'run/couic.sock'), token: '0b7e4b3c-1111-4222-8333-444455556666' });
    t.deepEqual(await clientOptionsFromConfig(config), {
      target: `unix:${join(dir, 'run/couic.sock')}`,
      token: '0b7e4b3c-1111-4222-8333-444455556666',
    });
  });
});

test('local mode: an explicit token wins over client_file; mode defaults to local', async (t) => {
  await withDir(async (dir) => {
    const path = join(dir, 'c.toml');
    await writeFile(path, 'token = "tok"\n');
    t.deepEqual(await loadCliConfig(path), { mode: 'local', socket: '/run/couic/couic.sock', token: 'tok' });
  });
});

test('remote mode with defaults and with mTLS files', async (t) => {
  await withDir(async (dir) => {
    const path = join(dir, 'c.toml');
    await writeFile(path, 'mode = "remote"\nhost = "couic1.couic.tld"\ntoken = "tok"\n');
    t.deepEqual(await loadCliConfig(path), { mode: 'remote', host: 'couic1.couic.tld', port: 2900, tls: true, token: 'tok' });
    await writeFile(
      path,
      'mode = "remote"\nhost = "10.0.0.1"\nport = 2901\ntls = true\ntoken = "tok"\nca = "ca.pem"\ncert = "/etc/c.pem"\nkey = "k.pem"\nserver_name = "couic1"\n',
    );
    t.deepEqual(await loadCliConfig(path), {
      mode: 'remote',
      host: '10.0.0.1',
      port: 2901,
      tls: true,
      token: 'tok',
      ca: join(dir, 'ca.pem'),
      cert: '/etc/c.pem',
      key: join(dir, 'k.pem'),
      serverName: 'couic1',
    });
  });
});

test('remote mode without TLS builds an insecure host:port target', async (t) => {
  const options = await clientOptionsFromConfig({ mode: 'remote', host: '127.0.0.1', port: 2900, tls: false, token: 'x' });
  t.is(options.target, '127.0.0.1:2900');
  t.false(options.credentials?._isSecure() ?? true);
  t.is(hostTarget('::1', 2900), '[::1]:2900');
  t.is(hostTarget('[::1]', 2900), '[::1]:2900');
});

test('a missing PEM file is an error naming its key', async (t) => {
  const error = await t.throwsAsync(
    clientOptionsFromConfig({ mode: 'remote', host: 'h', port: 1, tls: true, token: 'x', ca: '/nonexistent/ca.pem' }),
    { instanceOf: CliConfigError },
  );
  t.regex(error?.message ?? '', /^ca: cannot read \/nonexistent\/ca\.pem: no such file/);
});

const BAD_CONFIGS: [string, RegExp][] = [
  ['mode = "cloud"\n', /mode: expected "local" or "remote"/],
  ['tokn = "x"\n', /tokn: unknown key/],
  ['mode = "remote"\nhost = "h"\ntoken = "t"\nport = 0\n', /port: expected an integer port between 1 and 65535/],
  ['mode = "remote"\nhost = "h"\ntoken = "t"\nport = "2900"\n', /port: expected an integer/],
  ['mode = "remote"\nhost = "h"\ntoken = "t"\ntls = "yes"\n', /tls: expected true or false/],
  ['mode = "remote"\ntoken = "t"\n', /host: required in remote mode/],
  ['mode = "remote"\nhost = "h"\n', /token: required in remote mode/],
  ['mode = "remote"\nhost = "h"\ntoken = "t"\ncert = "c.pem"\n', /key: required with cert/],
  ['socket = ""\ntoken = "t"\n', /socket: expected a non-empty string/],
  ['socket = 5\ntoken = "t"\n', /socket: expected a non-empty string/],
  ['mode = "local"\nsocket = \n', /not valid TOML: line 2/],
];

for (const [text, expected] of BAD_CONFIGS) {
  test(`bad config is refused naming the key: ${JSON.stringify(text)}`, async (t) => {
    await withDir(async (dir) => {
      const path = join(dir, 'c.toml');
      await writeFile(path, text);
      const error = await t.throwsAsync(loadCliConfig(path), { instanceOf: CliConfigError });
      t.regex(error?.message ?? '', expected);
      t.true(error?.message.includes(path));
    });
  });
}

test('every problem of a config is reported at once', async (t) => {
  await withDir(async (dir) => {
    const path = join(dir, 'c.toml');
    await writeFile(path, 'mode = "remote"\nport = 99999\nextra = 1\n');
    const message = (await t.throwsAsync(loadCliConfig(path)))?.message ?? '';
    for (const key of ['extra:', 'port:', 'host:', 'token:']) t.true(message.includes(key), key);
  });
});

test('client_file problems name the file and the token key', async (t) => {
  await withDir(async (dir) => {
    const path = join(dir, 'c.toml');
    await writeFile(join(dir, 'client.toml'), 'name = "couicctl"\n');
    await writeFile(path, 'client_file = "client.toml"\n');
    const error = await t.throwsAsync(loadCliConfig(path), { instanceOf: CliConfigError });
    t.regex(error?.message ?? '', /client_file .*client\.toml: token: expected a non-empty string/);
    await writeFile(path, 'client_file = "missing.toml"\n');
    t.regex((await t.throwsAsync(loadCliConfig(path)))?.message ?? '', /cannot read client_file .*missing\.toml: no such file/);
  });
});

test('an explicitly named config must exist; the default one may be absent', async (t) => {
  await withDir(async (dir) => {
    const missing = join(dir, 'nope.toml');
    t.regex((await t.throwsAsync(loadCliConfig(missing, true)))?.message ?? '', /cannot read config .*nope\.toml: no such file/);
    // Absent default config: falls back to the local defaults, whose client file is absent here too.
    const error = await t.throwsAsync(loadCliConfig(missing, false), { instanceOf: CliConfigError });
    t.regex(error?.message ?? '', /no config file .*nope\.toml .*-c FILE.*COUICCTL_CONFIG/);
  });
});
