// Every scenario, one section: what `npm run bench` runs (through bench/run.js).
import { apiInsertScenario } from './api-insert.js';
import { runCli } from './lib/cli.js';
import { memoryScenario } from './memory.js';
import { scalingScenario } from './scaling.js';

export const ALL_SCENARIOS = [apiInsertScenario, memoryScenario, scalingScenario] as const;

await runCli(ALL_SCENARIOS);
