// Where things are, relative to this checkout, whatever the current directory.
import { fileURLToPath } from 'node:url';

export { DAEMON_BIN, REPO_ROOT } from '../../test/helpers/daemon.js';

export const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
export const RESULTS_FILE = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
export const PLOTS_DIR = fileURLToPath(new URL('../plots/', import.meta.url));
