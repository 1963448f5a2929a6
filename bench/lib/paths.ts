// Where things are, relative to this checkout, whatever the current directory.
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));
export const DAEMON_BIN = fileURLToPath(new URL('../../bin/couic.js', import.meta.url));
export const RESULTS_FILE = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
export const PLOTS_DIR = fileURLToPath(new URL('../plots/', import.meta.url));
