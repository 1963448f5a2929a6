// Every scenario, one section: what `npm run bench` runs (through bench/run.js).
import { apiInsertScenario } from './api-insert.js';
import { busPropagationScenario } from './bus-propagation.js';
import { cliStartScenario } from './cli-start.js';
import { hostileLoadScenario } from './hostile-load.js';
import { runCli } from './lib/cli.js';
import { memoryScenario } from './memory.js';
import { replicationMemoryScenario } from './replication-memory.js';
import { replicationPropagationScenario } from './replication-propagation.js';
import { replicationReconcileScenario } from './replication-reconcile.js';
import { restartScenario } from './restart.js';
import { scalingScenario } from './scaling.js';
import { xdpScenario } from './xdp.js';

export const ALL_SCENARIOS = [apiInsertScenario, memoryScenario, restartScenario, scalingScenario, xdpScenario, replicationPropagationScenario, replicationReconcileScenario, replicationMemoryScenario, busPropagationScenario, cliStartScenario, hostileLoadScenario] as const;

await runCli(ALL_SCENARIOS);
