// Lint that keeps the tree as src/README.md draws it: promises handled, only Errors
// thrown, no import cycles, and imports that point one way between layers.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

// Each zone forbids `target` from importing any src/ folder not in `allowed` (a layer
// imports only the layers below it, as src/README.md draws them; generated/ is free).
const LAYERS = ['domain', 'files', 'store', 'dataplane', 'rbac', 'sets', 'pki', 'replication', 'api', 'metrics', 'config', 'daemon', 'cli', 'dnsdist'];
const below = (target, allowed) =>
  LAYERS.filter((layer) => layer !== target && !allowed.includes(layer)).map((layer) => ({
    target: `./src/${target}`,
    from: `./src/${layer}`,
    message: `${target}/ must not import ${layer}/ (see src/README.md)`,
  }));

const layerZones = [
  ...below('domain', []),
  ...below('files', []),
  ...below('dataplane', ['domain']),
  ...below('rbac', ['domain', 'files']),
  ...below('pki', ['domain', 'files']),
  ...below('store', ['domain', 'files', 'dataplane']),
  ...below('sets', ['domain', 'files', 'store']),
  ...below('replication', ['domain', 'files', 'store']),
  ...below('api', ['domain', 'files', 'store', 'dataplane', 'rbac', 'sets', 'replication']),
  ...below('metrics', ['domain', 'files', 'store', 'dataplane', 'rbac', 'sets', 'replication']),
  // config compiles couic.toml into the components' own option types.
  ...below('config', ['domain', 'files', 'store', 'dataplane', 'replication']),
  ...below('cli', ['domain']),
  ...below('dnsdist', ['domain', 'files', 'config']),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/generated/**', 'build/**', '.dev/**', 'bench/tmp/**', '**/*.js'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: ['./tsconfig.check.json'], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin, 'import-x': importX },
    settings: { 'import-x/resolver': { typescript: { project: './tsconfig.check.json' } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layerZones }] },
  },
);
