// An in-process stand-in for the couic services, for driving couicctl handlers in
// unit tests: records every request (completed with fromPartial, so tests compare
// whole messages) and answers with what the test scripted, or an empty reply.
import { type AppDeps, type Connection, runCouicctl } from '../../../src/cli/app.js';
import type { CouicApi } from '../../../src/cli/context.js';
import { ManualClock } from '../../../src/domain/clock.js';
import * as clients from '../../../src/generated/couic/v1/clients.js';
import * as replication from '../../../src/generated/couic/v1/replication.js';
import * as rules from '../../../src/generated/couic/v1/rules.js';
import * as sets from '../../../src/generated/couic/v1/sets.js';
import * as stats from '../../../src/generated/couic/v1/stats.js';

export interface RecordedCall {
  method: string;
  request: unknown;
}

type Reply<Req, Res> = (request: Req) => Res | Promise<Res>;

/** Scripted answers; a missing one answers an empty message. Throwing = a failed call. */
export interface FakeReplies {
  addRule?: Reply<rules.AddRuleRequest, rules.DeepPartial<rules.AddRuleResponse>>;
  addRules?: Reply<rules.AddRulesRequest, rules.DeepPartial<rules.AddRulesResponse>>;
  deleteRule?: Reply<rules.DeleteRuleRequest, rules.DeepPartial<rules.DeleteRuleResponse>>;
  deleteRules?: Reply<rules.DeleteRulesRequest, rules.DeepPartial<rules.DeleteRulesResponse>>;
  getRule?: Reply<rules.GetRuleRequest, rules.DeepPartial<rules.GetRuleResponse>>;
  /** Chunks of the stream. */
  listRules?: Reply<rules.ListRulesRequest, rules.DeepPartial<rules.ListRulesResponse>[]>;
  checkAddress?: Reply<rules.CheckAddressRequest, rules.DeepPartial<rules.CheckAddressResponse>>;
  addClient?: Reply<clients.AddClientRequest, clients.DeepPartial<clients.AddClientResponse>>;
  getClient?: Reply<clients.GetClientRequest, clients.DeepPartial<clients.GetClientResponse>>;
  listClients?: Reply<clients.ListClientsRequest, clients.DeepPartial<clients.ListClientsResponse>>;
  deleteClient?: Reply<clients.DeleteClientRequest, clients.DeepPartial<clients.DeleteClientResponse>>;
  listSets?: Reply<sets.ListSetsRequest, sets.DeepPartial<sets.ListSetsResponse>>;
  getSet?: Reply<sets.GetSetRequest, sets.DeepPartial<sets.GetSetResponse>>;
  createSet?: Reply<sets.CreateSetRequest, sets.DeepPartial<sets.CreateSetResponse>>;
  updateSet?: Reply<sets.UpdateSetRequest, sets.DeepPartial<sets.UpdateSetResponse>>;
  deleteSet?: Reply<sets.DeleteSetRequest, sets.DeepPartial<sets.DeleteSetResponse>>;
  reloadSets?: Reply<sets.ReloadSetsRequest, sets.DeepPartial<sets.ReloadSetsResponse>>;
  getGlobalStats?: Reply<stats.GetGlobalStatsRequest, stats.DeepPartial<stats.GetGlobalStatsResponse>>;
  getTagStats?: Reply<stats.GetTagStatsRequest, stats.DeepPartial<stats.GetTagStatsResponse>>;
  listPeers?: Reply<replication.ListPeersRequest, replication.DeepPartial<replication.ListPeersResponse>>;
  /** Messages of the stream; it then stays open until the call is aborted (like a live watch). */
  watch?: Reply<replication.WatchRequest, replication.DeepPartial<replication.WatchResponse>[]>;
}

interface MessageType<T> {
  fromPartial(object: never): T;
}

export class FakeApi implements CouicApi {
  readonly calls: RecordedCall[] = [];
  /** Called once a watch stream has yielded its scripted messages (runCli: Ctrl-C). */
  afterWatchMessages: (() => void) | undefined;

  constructor(readonly replies: FakeReplies = {}) {}

  private async unary<Req, Res>(
    method: string,
    reqType: MessageType<Req>,
    resType: MessageType<Res>,
    partial: unknown,
    reply: Reply<Req, unknown> | undefined,
  ): Promise<Res> {
    const request = reqType.fromPartial(partial as never);
    this.calls.push({ method, request });
    const answer = reply === undefined ? {} : await reply(request);
    return resType.fromPartial(answer as never);
  }

  rules: rules.RulesServiceClient = {
    addRule: (r) => this.unary('addRule', rules.AddRuleRequest, rules.AddRuleResponse, r, this.replies.addRule),
    addRules: (r) => this.unary('addRules', rules.AddRulesRequest, rules.AddRulesResponse, r, this.replies.addRules),
    deleteRule: (r) => this.unary('deleteRule', rules.DeleteRuleRequest, rules.DeleteRuleResponse, r, this.replies.deleteRule),
    deleteRules: (r) => this.unary('deleteRules', rules.DeleteRulesRequest, rules.DeleteRulesResponse, r, this.replies.deleteRules),
    getRule: (r) => this.unary('getRule', rules.GetRuleRequest, rules.GetRuleResponse, r, this.replies.getRule),
    checkAddress: (r) => this.unary('checkAddress', rules.CheckAddressRequest, rules.CheckAddressResponse, r, this.replies.checkAddress),
    listRules: (partial) => {
      const request = rules.ListRulesRequest.fromPartial(partial);
      this.calls.push({ method: 'listRules', request });
      const reply = this.replies.listRules;
      return (async function* stream() {
        const chunks = reply === undefined ? [] : await reply(request);
        for (const chunk of chunks) yield rules.ListRulesResponse.fromPartial(chunk);
      })();
    },
  };

  clients: clients.ClientsServiceClient = {
    addClient: (r) => this.unary('addClient', clients.AddClientRequest, clients.AddClientResponse, r, this.replies.addClient),
    getClient: (r) => this.unary('getClient', clients.GetClientRequest, clients.GetClientResponse, r, this.replies.getClient),
    listClients: (r) => this.unary('listClients', clients.ListClientsRequest, clients.ListClientsResponse, r, this.replies.listClients),
    deleteClient: (r) => this.unary('deleteClient', clients.DeleteClientRequest, clients.DeleteClientResponse, r, this.replies.deleteClient),
  };

  sets: sets.SetsServiceClient = {
    listSets: (r) => this.unary('listSets', sets.ListSetsRequest, sets.ListSetsResponse, r, this.replies.listSets),
    getSet: (r) => this.unary('getSet', sets.GetSetRequest, sets.GetSetResponse, r, this.replies.getSet),
    createSet: (r) => this.unary('createSet', sets.CreateSetRequest, sets.CreateSetResponse, r, this.replies.createSet),
    updateSet: (r) => this.unary('updateSet', sets.UpdateSetRequest, sets.UpdateSetResponse, r, this.replies.updateSet),
    deleteSet: (r) => this.unary('deleteSet', sets.DeleteSetRequest, sets.DeleteSetResponse, r, this.replies.deleteSet),
    reloadSets: (r) => this.unary('reloadSets', sets.ReloadSetsRequest, sets.ReloadSetsResponse, r, this.replies.reloadSets),
  };

  stats: stats.StatsServiceClient = {
    getGlobalStats: (r) =>
      this.unary('getGlobalStats', stats.GetGlobalStatsRequest, stats.GetGlobalStatsResponse, r, this.replies.getGlobalStats),
    getTagStats: (r) => this.unary('getTagStats', stats.GetTagStatsRequest, stats.GetTagStatsResponse, r, this.replies.getTagStats),
  };

  replication: replication.ReplicationServiceClient = {
    listPeers: (r) =>
      this.unary('listPeers', replication.ListPeersRequest, replication.ListPeersResponse, r, this.replies.listPeers),
    watch: (partial, options) => {
      const request = replication.WatchRequest.fromPartial(partial);
      this.calls.push({ method: 'watch', request });
      const reply = this.replies.watch;
      const afterWatchMessages = this.afterWatchMessages;
      return (async function* stream() {
        const messages = reply === undefined ? [] : await reply(request);
        for (const message of messages) yield replication.WatchResponse.fromPartial(message);
        afterWatchMessages?.();
        const signal = options?.signal;
        if (signal === undefined) return;
        if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        throw Object.assign(new Error('The operation has been aborted'), { name: 'AbortError' });
      })();
    },
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  api: FakeApi;
  /** Config paths couicctl asked to connect with (empty = it never connected). */
  connects: { path: string; explicit: boolean }[];
}

export interface RunOptions {
  replies?: FakeReplies;
  /** Wall clock of the run, ms since the epoch. */
  nowMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Files readable through --from-file (`-` = stdin). */
  files?: Record<string, string>;
  stdoutIsTty?: boolean;
  /** For live views: the signal given to sleep() is aborted after this many sleeps. */
  stopAfterSleeps?: number;
  /** Replaces the fake connection (e.g. to make connecting fail). */
  connect?: AppDeps['connect'];
  /** Press Ctrl-C once a watch stream has delivered its scripted messages. */
  interruptAfterWatch?: boolean;
}

/** Runs couicctl in-process against a FakeApi and captures everything it printed. */
export async function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  const api = new FakeApi(options.replies);
  const clock = new ManualClock(options.nowMs ?? 1_700_000_000_500);
  let stdout = '';
  let stderr = '';
  const connects: CliRun['connects'] = [];
  const interrupt = new AbortController();
  if (options.interruptAfterWatch === true) api.afterWatchMessages = () => interrupt.abort();
  let sleeps = 0;
  const files = options.files ?? {};
  const connect = async (path: string, explicit: boolean): Promise<Connection> => {
    connects.push({ path, explicit });
    return { api, target: 'unix:/fake.sock', close: () => undefined };
  };
  const code = await runCouicctl(args, {
    env: options.env ?? {},
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdoutIsTty: options.stdoutIsTty ?? false,
    clock,
    readText: async (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
    sleep: async (ms) => {
      sleeps += 1;
      clock.advanceMs(ms);
      if (sleeps >= (options.stopAfterSleeps ?? 1)) interrupt.abort();
    },
    interruptSignal: () => interrupt.signal,
    connect: options.connect ?? connect,
    version: '0.0.0-test',
  });
  return { code, stdout, stderr, api, connects };
}
