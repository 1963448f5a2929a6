// Lint that keeps the tree as src/README.md draws it: promises handled, only Errors
// thrown, no import cycles, and imports that point one way between layers.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

// Each zone forbids `target` from importing `from` (a layer may only import below it).
const below = (target, allowed) => {
  const layers = ['domain', 'store', 'dataplane', 'rbac', 'sets', 'replication', 'api', 'metrics', 'config', 'pki', 'daemon', 'cli', 'dnsdist'];
  return layers
    .filter((layer) => layer !== target && !allowed.includes(layer))
    .map((layer) => ({ target: `./src/${target}`, from: `./src/${layer}`, message: `${target}/ must not import ${layer}/ (see src/README.md)` }));
};

const layerZones = [
  ...below('domain', []),
  ...below('dataplane', ['domain']),
  ...below('rbac', ['domain']),
  ...below('pki', ['domain']),
  ...below('store', ['domain', 'dataplane']),
  ...below('sets', ['domain', 'store']),
  ...below('replication', ['domain', 'store']),
  ...below('api', ['domain', 'store', 'dataplane', 'rbac', 'sets', 'replication']),
  ...below('metrics', ['domain', 'store', 'dataplane', 'rbac', 'sets', 'replication']),
  ...below('config', ['domain']),
  ...below('cli', ['domain']),
  ...below('dnsdist', ['domain', 'config']),
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
