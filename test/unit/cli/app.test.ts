// The couicctl shell around the commands: help, usage errors, exit codes, and which
// config file is used.
import test from 'ava';
import { ClientError, Status } from 'nice-grpc-common';
import { CliConfigError, connectReason, describeFailure, UsageError } from '../../../src/cli/errors.js';
import { InvalidArgumentError } from '../../../src/domain/errors.js';
import { runCli } from './fake-api.js';

test('--help prints the command list on stdout, exit 0, no connection', async (t) => {
  const run = await runCli(['--help']);
  t.is(run.code, 0);
  t.is(run.stderr, '');
  for (const group of ['clients', 'drop', 'ignore', 'sets', 'stats', 'check <ip>']) t.true(run.stdout.includes(`couicctl ${group}`), group);
  t.is(run.connects.length, 0);
  const sub = await runCli(['drop', 'add', '--help']);
  t.true(sub.stdout.includes('--expiration'));
  t.true(sub.stdout.includes('--from-file'));
});

test('--version prints the version', async (t) => {
  const run = await runCli(['--version']);
  t.is(run.stdout, '0.0.0-test\n');
});

test('usage errors: one stderr line, exit 2, never a connection', async (t) => {
  const cases: [string[], RegExp][] = [
    [[], /give a command/],
    [['drop'], /drop: give a command/],
    [['frobnicate'], /Unknown argument: frobnicate/],
    [['drop', 'list', '--bogus'], /Unknown argument: bogus/],
    [['drop', 'inspect'], /Not enough non-option arguments/],
    [['sets', 'inspect', 'drop'], /Not enough non-option arguments/],
    [['drop', 'add', '1.1.1.1/32', '-e'], /Not enough arguments following: e/],
    [['check'], /Not enough non-option arguments/],
  ];
  for (const [args, expected] of cases) {
    const run = await runCli(args);
    t.is(run.code, 2, args.join(' '));
    t.regex(run.stderr, /^couicctl: error: /);
    t.regex(run.stderr, expected);
    t.is(run.stderr.split('\n').length, 2, 'exactly one line');
    t.is(run.stdout, '');
    t.is(run.connects.length, 0);
  }
});

test('config: -c wins over COUICCTL_CONFIG, which wins over the default', async (t) => {
  const env = { COUICCTL_CONFIG: '/env/couicctl.toml' };
  t.deepEqual((await runCli(['-c', '/opt/c.toml', 'drop', 'list'], { env })).connects, [{ path: '/opt/c.toml', explicit: true }]);
  t.deepEqual((await runCli(['drop', 'list', '--config', '/opt/d.toml'], { env })).connects, [{ path: '/opt/d.toml', explicit: true }]);
  t.deepEqual((await runCli(['drop', 'list'], { env })).connects, [{ path: '/env/couicctl.toml', explicit: true }]);
  t.deepEqual((await runCli(['drop', 'list'])).connects, [{ path: '/etc/couic/couicctl.toml', explicit: false }]);
});

test('a config problem is one line, exit 2', async (t) => {
  const run = await runCli(['drop', 'list'], {
    connect: async () => {
      throw new CliConfigError('config /x.toml: port: expected an integer port between 1 and 65535');
    },
  });
  t.is(run.code, 2);
  t.is(run.stderr, 'couicctl: error: config /x.toml: port: expected an integer port between 1 and 65535\n');
});

test('describeFailure: codes, connection failures, local mistakes, anything else', (t) => {
  const unavailable = new ClientError(
    '/couic.v1.RulesService/GetRule',
    Status.UNAVAILABLE,
    'No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.1:2900. Resolution note: ',
  );
  t.deepEqual(describeFailure(unavailable, '10.0.0.1:2900'), {
    line: 'couicctl: error: UNAVAILABLE: cannot reach couic at 10.0.0.1:2900 (connect ECONNREFUSED 10.0.0.1:2900); is the daemon running?',
    exitCode: 1,
  });
  // UNAVAILABLE the server itself reports is passed through as is.
  t.is(describeFailure(new ClientError('/p', Status.UNAVAILABLE, 'peer mesh is starting')).line, 'couicctl: error: UNAVAILABLE: peer mesh is starting');
  t.is(describeFailure(new ClientError('/p', Status.UNAUTHENTICATED, 'unknown token')).line, 'couicctl: error: UNAUTHENTICATED: unknown token');
  t.is(describeFailure(new ClientError('/p', Status.RESOURCE_EXHAUSTED, 'drop v4 map is full')).line, 'couicctl: error: RESOURCE_EXHAUSTED: drop v4 map is full');
  t.deepEqual(describeFailure(new UsageError('bad')), { line: 'couicctl: error: bad', exitCode: 2 });
  t.deepEqual(describeFailure(InvalidArgumentError.single('-e', 'nope')), { line: 'couicctl: error: -e: nope', exitCode: 2 });
  t.deepEqual(describeFailure(new Error('boom')), { line: 'couicctl: error: boom', exitCode: 1 });
  t.deepEqual(describeFailure('weird'), { line: 'couicctl: error: weird', exitCode: 1 });
});

test('connectReason keeps the useful part of grpc-js connection details', (t) => {
  t.is(connectReason('No connection established. Last error: Error: connect ENOENT /run/x.sock. Resolution note: '), 'connect ENOENT /run/x.sock');
  t.is(connectReason('No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1'), 'connect ECONNREFUSED 127.0.0.1:1');
  t.is(connectReason('Failed to connect'), 'Failed to connect');
});
