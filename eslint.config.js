// Lint, and the layer boundaries of DESIGN.md as import rules. test/unit/lint-boundaries.test.ts
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
  { group: ['**/main', '**/main/**', '../main/*', '/main/*'], message: 'The renderer talks to main only through the contract (preload/contract).' },
];
const serverPatterns = [{ group: ['**/server', '**/server/**'], message: 'Pure modules must not depend on the server.' }];

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
  // Boundary: the wire contract (protocol/) and the UI contract (preload/contract*) are pure.
  {
    files: ['protocol/**/*.ts', 'preload/contract*.ts'],
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
