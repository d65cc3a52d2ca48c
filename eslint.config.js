// Lint, and the layer boundaries of docs/architecture.md as import rules. test/unit/lint-boundaries.test.ts
// proves each boundary fails on a deliberate violation.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { builtinModules } from 'node:module';

// Exact names (a pattern like 'constants' would also match a local './constants').
const pureMessage = 'This module must stay pure: no Node built-ins (it runs in the renderer or is shared wire contract).';
const nodeBuiltinPaths = builtinModules.filter((m) => !m.startsWith('_')).map((name) => ({ name, message: pureMessage }));
const electronImports = [
  { name: 'electron', message: "Only main/app (and the preload bridge) may import 'electron'; keep the engine plain Node." },
];
const electronPatterns = [{ group: ['electron/*'], message: "Only main/app may import 'electron'." }];
const nodePatterns = [{ group: ['node:*'], message: pureMessage }];
const mainPatterns = [
  { group: ['**/main', '**/main/**', '../main/*', '/main/*'], message: 'The renderer talks to main only through the UI contract (shared/ui-contract).' },
];
const serverPatterns = [{ group: ['**/server', '**/server/**'], message: 'Pure modules must not depend on the server.' }];
// The engine speaks its own API (main/engine/agent/api.ts); main/ui-adapter turns it into the
// UI contract, and the hosts (main/app, main/control) sit above it.
const enginePatterns = [
  { group: ['**/shared/ui-contract', '**/shared/ui-contract*', '**/preload', '**/preload/**'], message: 'The engine does not import the UI contract: main/ui-adapter turns its API into it.' },
  { group: ['**/app', '**/app/**', '**/main/app', '**/main/app/**'], message: 'The engine does not import main/app: the hosts sit above it.' },
  { group: ['**/control', '**/control/**', '**/main/control/**'], message: 'The engine does not import main/control: the hosts sit above it.' },
  { group: ['**/ui-adapter', '**/ui-adapter/**'], message: 'The engine does not import main/ui-adapter: the adapter sits above it.' },
];
// The scanner confirms this disk's changes; what a pull does is not its business.
const scannerPatterns = [{ group: ['./pull', './pull/**', '**/engine/pull/**'], message: 'The scanner does not import pull/.' }];

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'dist/**', 'out/**', 'native/**', 'test-results/**', 'playwright-report/**', 'test/fixtures/lint/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'smart'],
    },
  },
  // Boundary: nothing outside main/app imports electron (the preload bridge is Electron's by nature).
  {
    files: ['**/*.{ts,tsx,js,mjs,cjs}'],
    ignores: ['main/app/**', 'preload/bridge.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: electronImports, patterns: electronPatterns }],
    },
  },
  // Boundary: the engine imports neither the UI contract nor its hosts (main/app, main/control).
  {
    files: ['main/engine/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { paths: electronImports, patterns: [...electronPatterns, ...enginePatterns] }],
    },
  },
  // Boundary: the scanner does not import pull/.
  {
    files: ['main/engine/scanner.ts', 'main/engine/spellings.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: electronImports, patterns: [...electronPatterns, ...enginePatterns, ...scannerPatterns] },
      ],
    },
  },
  // Boundary: the renderer imports nothing from main/ and no Node built-ins.
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...electronImports, ...nodeBuiltinPaths],
          patterns: [...electronPatterns, ...nodePatterns, ...mainPatterns, ...serverPatterns],
        },
      ],
    },
  },
  // Boundary: the wire contract (protocol/) and what main and the renderer share (shared/: the UI
  // contract, the settings) are pure.
  {
    files: ['protocol/**/*.ts', 'shared/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [...electronImports, ...nodeBuiltinPaths],
          patterns: [...electronPatterns, ...nodePatterns, ...mainPatterns, ...serverPatterns],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
