// `npm test`: type checks, lint, build, then every suite (vitest, Playwright in Chromium).
// Ends with one line `N passed, N failed[, N skipped]` summed over all suites, and a
// non-zero exit on any failure. Type check, lint and build count as one check each.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { root } from './lib.mjs';

const bin = (name) => path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);
const totals = { passed: 0, failed: 0, skipped: 0 };
const only = process.argv.slice(2); // e.g. `npm test -- unit` runs only named steps

function step(name, cmd, args, env = {}) {
  if (only.length && !only.includes(name)) return null;
  console.log(`\n── ${name}: ${[path.basename(cmd), ...args].join(' ')}`);
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return result.status === 0;
}

function check(name, cmd, args) {
  const ok = step(name, cmd, args);
  if (ok === null) return;
  totals[ok ? 'passed' : 'failed'] += 1;
}

function readReport(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

check('typecheck', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
check('lint', bin('eslint'), ['--max-warnings=0', '.']);
check('build', process.execPath, [path.join(root, 'scripts', 'build.mjs')]);

/** One vitest run with a JSON report, its counts added to the totals. */
function vitest(name, reportName, extraArgs = []) {
  const report = path.join(root, reportName);
  rmSync(report, { force: true });
  const ok = step(name, bin('vitest'), ['run', ...extraArgs, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`]);
  if (ok === null) return;
  const data = readReport(report);
  if (data) {
    totals.passed += data.numPassedTests ?? 0;
    totals.failed += data.numFailedTests ?? 0;
    totals.skipped += (data.numPendingTests ?? 0) + (data.numTodoTests ?? 0);
    // A suite that fails to load has no failed tests but still fails the run.
    if (!ok && !data.numFailedTests) totals.failed += 1;
  } else if (!ok) totals.failed += 1;
}

const vitestReport = path.join(root, '.vitest-report.json');
vitest('unit', '.vitest-report.json');
// The randomized proof, alone on the machine (vitest.chaos.config.ts).
vitest('chaos', '.vitest-chaos-report.json', ['--config', 'vitest.chaos.config.ts']);

const pwReport = path.join(root, '.playwright-report.json');
rmSync(pwReport, { force: true });
const pwOk = step('e2e', bin('playwright'), ['test'], { PLAYWRIGHT_JSON_OUTPUT_NAME: pwReport });
if (pwOk !== null) {
  const stats = readReport(pwReport)?.stats;
  if (stats) {
    totals.passed += (stats.expected ?? 0) + (stats.flaky ?? 0);
    totals.failed += stats.unexpected ?? 0;
    totals.skipped += stats.skipped ?? 0;
    if (!pwOk && !stats.unexpected) totals.failed += 1;
  } else if (!pwOk) totals.failed += 1;
}

const line = `${totals.passed} passed, ${totals.failed} failed` + (totals.skipped ? `, ${totals.skipped} skipped` : '');
console.log(`\n${line}`);
process.exit(totals.failed > 0 || (totals.passed === 0 && !existsSync(vitestReport)) ? 1 : 0);
