// The Lua the bridge sends, on a recording console: big sets are staged in chunks that
// stay far below dnsdist's 10 MB message limit and used by one final command; strings
// cannot break out of their literal; the netmask rule is swapped, old ones removed.
// (What dnsdist does with it is checked on the real one in test/integration/dnsdist.test.ts.)
import test from 'ava';
import { ConsoleCommandError, type ConsolePort } from '../../../src/dnsdist/console/console-port.js';
import { ConsoleDnsdistControl } from '../../../src/dnsdist/console-dnsdist-control.js';
import { luaString } from '../../../src/dnsdist/lua.js';

class RecordingConsole implements ConsolePort {
  readonly commands: string[] = [];
  constructor(private readonly answer: (command: string) => string = () => '') {}
  async run(command: string): Promise<string> {
    this.commands.push(command);
    return this.answer(command);
  }
  close(): void {}
}

test('Lua string literals escape quotes, backslashes, control and non-ASCII bytes', (t) => {
  t.is(luaString('a "b" \\ c'), '"a \\034b\\034 \\092 c"');
  t.is(luaString('x\ny'), '"x\\010y"');
  t.is(luaString('é'), '"\\195\\169"');
  t.is(luaString('end"] os.exit() --'), '"end\\034] os.exit() --"');
});

test('50,000 addresses are staged in chunks of 20,000, then added by one addDynBlocks', async (t) => {
  const console = new RecordingConsole();
  const control = new ConsoleDnsdistControl(console);
  const items = Array.from({ length: 50_000 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
  await control.addHostBlocks([{ items, seconds: 60, reason: 'couic:x', action: 'DNSAction.Drop' }]);
  const staging = console.commands.filter((c) => c.includes('gmatch'));
  t.is(staging.length, 3);
  t.true(console.commands.every((c) => c.length < 1_000_000), 'every command far below 10 MB');
  const last = console.commands.at(-1) ?? '';
  t.is((last.match(/addDynBlocks\(/g) ?? []).length, 1, 'one table copy for the group');
  t.regex(console.commands.join('\n'), /_couicG\[1\]\.couic = \{"couic:x", 60, DNSAction\.Drop\}/);
});

test('replacing the table clears and re-adds in one command', async (t) => {
  const console = new RecordingConsole();
  const control = new ConsoleDnsdistControl(console);
  await control.replaceDynBlocks(
    [{ items: ['192.0.2.1'], seconds: 30, reason: 'own', action: 'nil' }],
    [{ items: ['attack.example'], seconds: 30, reason: 'prsd', action: 'DNSAction.Refused' }],
  );
  const last = console.commands.at(-1) ?? '';
  t.true(last.startsWith('clearDynBlocks()'));
  t.regex(last, /addDynBlocks\(_couicG\[1\]/);
  t.regex(last, /addDynBlockSMT\(_couicS\[1\]/);
});

test('the netmask rule is added on top before the old ones are removed; an empty set only removes', async (t) => {
  const rules = [
    '#   Name                             Matches Rule                                                     Action',
    '0   couic-netmasks-5                       0 Src: 10.0.0.0/8                                          drop',
    '1                                          2 All                                                      spoof in 192.0.2.1 ',
  ].join('\n');
  const console = new RecordingConsole((c) => (c === 'showRules()' ? rules : ''));
  const control = new ConsoleDnsdistControl(console);
  await control.replaceNetmaskRule(['10.0.0.0/8', '!10.1.0.0/16'], 'refused');
  const last = console.commands.at(-1) ?? '';
  t.regex(last, /^addAction\(NetmaskGroupRule\(_couicN, true\), RCodeAction\(DNSRCode\.REFUSED\), \{name="couic-netmasks-\d+"\}\) mvRuleToTop\(\) rmRule\("couic-netmasks-5"\)/);
  t.true(console.commands.some((c) => c.includes('"10.0.0.0/8 !10.1.0.0/16"')));
  console.commands.length = 0;
  await control.replaceNetmaskRule([], 'drop');
  t.deepEqual(console.commands, ['showRules()', 'rmRule("couic-netmasks-5")']);
});

test('an "Error: " answer becomes a ConsoleCommandError', async (t) => {
  const control = new ConsoleDnsdistControl(new RecordingConsole(() => 'Error: [string "x"]:1: boom'));
  await t.throwsAsync(control.ping(), { instanceOf: ConsoleCommandError, message: /showVersion: Error: .*boom/ });
});
