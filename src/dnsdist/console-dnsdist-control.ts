// DnsdistControl over the console. Big inputs are staged in Lua globals across
// several commands (each command stays far below dnsdist's 10 MB message limit), then
// used by one final command, so the block table is copied once per group and the
// netmask rule is swapped in one step: add the new rule at the top, remove the old.
import { checkConsoleOutput, type ConsolePort } from './console/console-port.js';
import type { BlockGroup, DnsdistControl } from './dnsdist-control.js';
import { parseDynBlocks, parseRuleNames, type DynBlockRow } from './dyn-block-table.js';
import { luaString, ruleAction, type BlockAction } from './lua.js';

/** Names of the bridge's rules carry this prefix (and a generation number). */
export const NETMASK_RULE_PREFIX = 'couic-netmasks-';
const STAGE_ITEMS_PER_COMMAND = 20_000;

export class ConsoleDnsdistControl implements DnsdistControl {
  private generation = Date.now();

  constructor(private readonly console: ConsolePort) {}

  async listDynBlocks(): Promise<DynBlockRow[]> {
    return parseDynBlocks(checkConsoleOutput(await this.console.run('showDynBlocks()'), 'showDynBlocks'));
  }

  async addHostBlocks(groups: readonly BlockGroup[]): Promise<void> {
    if (groups.length === 0) return;
    await this.stageGroups(groups, 'newCA(x)');
    await this.run(`${addCalls('addDynBlocks', groups.length)} _couicG = nil`, 'addDynBlocks');
  }

  async replaceDynBlocks(hosts: readonly BlockGroup[], suffixes: readonly BlockGroup[]): Promise<void> {
    await this.stageGroups(hosts, 'newCA(x)', '_couicG');
    await this.stageGroups(suffixes, 'x', '_couicS', true);
    const lines = ['clearDynBlocks()', addCalls('addDynBlocks', hosts.length), addCalls('addDynBlockSMT', suffixes.length, '_couicS')];
    await this.run(`${lines.join(' ')} _couicG = nil _couicS = nil`, 'replaceDynBlocks');
  }

  async replaceNetmaskRule(masks: readonly string[], action: BlockAction): Promise<void> {
    const old = parseRuleNames(await this.run('showRules()', 'showRules')).filter((n) => n.startsWith(NETMASK_RULE_PREFIX));
    const removals = old.map((name) => `rmRule(${luaString(name)})`).join(' ');
    if (masks.length === 0) {
      if (removals !== '') await this.run(removals, 'rmRule');
      return;
    }
    await this.run('_couicN = newNMG()', 'newNMG');
    for (let i = 0; i < masks.length; i += STAGE_ITEMS_PER_COMMAND) {
      const text = masks.slice(i, i + STAGE_ITEMS_PER_COMMAND).join(' ');
      await this.run(`local n = _couicN for m in (${luaString(text)}):gmatch("%S+") do n:addMask(m) end`, 'addMask');
    }
    const name = `${NETMASK_RULE_PREFIX}${++this.generation}`;
    await this.run(
      `addAction(NetmaskGroupRule(_couicN, true), ${ruleAction(action)}, {name=${luaString(name)}}) mvRuleToTop() ${removals} _couicN = nil`,
      'addAction',
    );
  }

  async ping(): Promise<void> {
    await this.run('showVersion()', 'showVersion');
  }

  close(): void {
    this.console.close();
  }

  /** Builds `global[i] = {items}` (a table keyed by ComboAddress, or a list of names). */
  private async stageGroups(groups: readonly BlockGroup[], key: string, global = '_couicG', asList = false): Promise<void> {
    await this.run(`${global} = {}`, 'stage');
    for (const [index, group] of groups.entries()) {
      const slot = `${global}[${index + 1}]`;
      await this.run(`${slot} = {}`, 'stage');
      for (let i = 0; i < group.items.length; i += STAGE_ITEMS_PER_COMMAND) {
        const text = group.items.slice(i, i + STAGE_ITEMS_PER_COMMAND).join(' ');
        const body = asList ? `t[#t + 1] = ${key}` : `t[${key}] = 1`;
        await this.run(`local t = ${slot} for x in (${luaString(text)}):gmatch("%S+") do ${body} end`, 'stage');
      }
      await this.run(`${slot}.couic = {${luaString(group.reason)}, ${group.seconds}, ${group.action}}`, 'stage');
    }
  }

  private async run(command: string, what: string): Promise<string> {
    return checkConsoleOutput(await this.console.run(command), what);
  }
}

/** `fn(g[i], reason, seconds, action)` for every staged group, each in its own block. */
function addCalls(fn: string, count: number, global = '_couicG'): string {
  const calls: string[] = [];
  for (let i = 1; i <= count; i++) {
    const g = `${global}[${i}]`;
    // The metadata sits under a string key: take it out before dnsdist converts the table.
    calls.push(`do local m = ${g}.couic ${g}.couic = nil ${fn}(${g}, m[1], m[2], m[3]) end`);
  }
  return calls.join(' ');
}
