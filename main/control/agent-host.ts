import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Settings } from '../../shared/ui-contract';
import { createAgent, type Agent, type AgentOptions } from '../engine/agent';
import { settingsWarnings } from '../engine/agent/status-parts';
import { toAgentService } from '../ui-adapter/agent-service';
import { configureLogging, createLogger, type LogLevel } from '../logging';
import { startControlServer, type ControlServer } from './control-server';
import { listenOnStablePort } from './control-port';
import { ensureControlToken, removeAgentInfo, SETTINGS_FILE, writeAgentInfo } from './control-token';
import { acquireInstanceLock } from '../instance-lock';
import { makeDataDirPrivate, restrictFilesIn } from '../private-files';
import { ferryVersion } from './version';

/**
 * Hosts an agent headless: single-instance lock, logging to DIR/logs, the control API (with
 * the renderer bundle at /), DIR/agent.json for the CLI clients, and a clean stop on signals.
 * Both `ferry agent` and the embedded default (`ferry start`) run through here.
 */
const builtRendererDir = fileURLToPath(new URL('../../dist/renderer', import.meta.url));
const sourceRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A source of the web UI edited since `npm run build` made the bundle served (a checkout, not a
 * release): the page is then an older UI than the agent's (a new-user try met the old History
 * panel). The first such source; undefined when the bundle is current or says nothing of its inputs.
 */
export function staleRendererSource(dir: string, root: string = sourceRoot): string | undefined {
  try {
    const built = statSync(path.join(dir, 'app.js')).mtimeMs;
    const inputs = JSON.parse(readFileSync(path.join(dir, 'inputs.json'), 'utf8')) as string[];
    return inputs.find((file) => {
      try {
        return statSync(path.join(root, file)).mtimeMs > built;
      } catch {
        return false; // a source gone: not this check's to say
      }
    });
  } catch {
    return undefined;
  }
}

export interface HostOptions {
  dataDir: string;
  settings: Settings;
  /** Unset: the port this data directory used last (a free one the first time). 0: any free port. */
  controlPort?: number;
  logLevel?: LogLevel;
  deviceName?: string;
  tuning?: AgentOptions['tuning'];
  /** The renderer bundle served at / (default: dist/renderer, when built). */
  rendererDir?: string;
  /** Extra work to undo at stop (the embedded server). */
  onStop?: () => Promise<void>;
}

export interface Host {
  agent: Agent;
  control: ControlServer;
  stop(): Promise<void>;
}

/** Settings the UI changed, kept for the next start (mode 0600: it holds the server token). */
export async function saveSettingsFile(dataDir: string, settings: Settings): Promise<void> {
  await writePrivateJson(path.join(dataDir, SETTINGS_FILE), settings);
}

/** Replaces `file` with `value` as JSON, mode 0600, atomically (write, then rename). */
export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

export async function startHost(options: HostOptions): Promise<Host> {
  makeDataDirPrivate(options.dataDir);
  const lock = acquireInstanceLock(options.dataDir);
  const log = createLogger('agent-host');
  let agent: Agent | undefined;
  let control: ControlServer | undefined;
  try {
    // The terminal is for a person: warnings and errors (and the state lines of
    // reportStateChanges); per-request and per-file lines go to the log file only, unless
    // --log-level asks the console for them too.
    configureLogging({ level: options.logLevel ?? 'info', consoleLevel: options.logLevel ?? 'warn', file: path.join(options.dataDir, 'logs', 'agent.log') });
    agent = await createAgent({
      dataDir: options.dataDir,
      settings: options.settings,
      saveSettings: (settings) => saveSettingsFile(options.dataDir, settings),
      // Headless, the token sits in a 0600 file: say so rather than pretend it is protected.
      tokenProtection: 'plaintext',
      clientVersion: `ferry/${ferryVersion()}`,
      ...(options.deviceName ? { deviceName: options.deviceName } : {}),
      ...(options.tuning ? { tuning: options.tuning } : {}),
    });
    const token = await ensureControlToken(options.dataDir);
    const rendererDir = options.rendererDir ?? builtRendererDir;
    const stale = staleRendererSource(rendererDir);
    if (stale !== undefined) log.warn(`the web UI in ${rendererDir} is older than its source (${stale}): \`npm run build\` makes it again`);
    const listen = (port: number) =>
      startControlServer({ service: toAgentService(agent!), token, port, ...(existsSync(path.join(rendererDir, 'index.html')) ? { rendererDir } : {}) });
    control = await listenOnStablePort(options.dataDir, options.controlPort, listen);
    await writeAgentInfo(options.dataDir, { pid: process.pid, controlUrl: control.url, startedAt: new Date().toISOString() });
    // The state database (SQLite gives its WAL files the same mode), tokens, agent.json: owner only.
    restrictFilesIn(options.dataDir);
    await agent.start();
  } catch (error) {
    await control?.close().catch(() => undefined);
    await agent?.stop().catch(() => undefined);
    lock.release();
    throw error;
  }
  const started = { agent, control };
  let stopping: Promise<void> | null = null;
  return {
    ...started,
    stop() {
      stopping ??= (async () => {
        log.info('stopping');
        await started.control.close().catch(() => undefined);
        await started.agent.stop();
        await options.onStop?.();
        await removeAgentInfo(options.dataDir).catch(() => undefined);
        lock.release();
      })();
      return stopping;
    },
  };
}

/** Stops the host on SIGINT/SIGTERM and resolves when it has, with the exit code. */
export function stopOnSignals(host: Host, out: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      out(`Ferry: ${signal}, stopping…`);
      host.stop().then(
        () => resolve(0),
        (error: unknown) => {
          out(`Ferry: stop failed: ${error instanceof Error ? error.message : String(error)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** The few lines a person reads at start: what runs, where the UI is. */
/** How long a state must hold before it is printed: a sync that starts and ends at once is one line, not two. */
const STATE_LINE_SETTLE_MS = 1000;

/**
 * Prints the agent's state when it changes (`state: waiting — why`), once it has held for a
 * moment, so the terminal says what a person needs without a line per file. Returns a stop.
 */
export function reportStateChanges(agent: Pick<Agent, 'status' | 'subscribe'>, out: (line: string) => void, settleMs = STATE_LINE_SETTLE_MS): () => void {
  const line = (s: { state: string; reason?: string | null }) => `state: ${s.state}${s.reason ? ` — ${s.reason}` : ''}`;
  // Nothing printed yet: the state at start is said too (a new-user try started a signed-out
  // device and read no state line at all, only a warning).
  let printed = '';
  let timer: NodeJS.Timeout | undefined;
  const settle = (next: string) => {
    clearTimeout(timer);
    if (next === printed) return;
    timer = setTimeout(() => {
      printed = next;
      out(`${new Date().toTimeString().slice(0, 8)} ${next}`);
    }, settleMs);
    timer.unref();
  };
  const unsubscribe = agent.subscribe((event) => {
    if (event.type === 'status') settle(line(event.status));
  }, ['status']);
  settle(line(agent.status()));
  return () => {
    clearTimeout(timer);
    unsubscribe();
  };
}

export function describeHost(host: Host, dataDir: string, isDirectory?: (p: string) => boolean): string[] {
  const status = host.agent.status();
  // A synced folder in error (gone, its marker gone) says so under its line, with what to do: the
  // banner said "Syncing:" above it (a new-user try), the reason only in a log line before.
  const broken = (f: (typeof status.folders)[number]) => f.state === 'error' && f.notMadeYet !== true && f.error !== null;
  const folders = status.folders.flatMap((f) => [`  ${f.localPath} ⇄ ${f.remoteId}`, ...(broken(f) ? [`    not syncing: ${f.error}`] : [])]);
  // What the settings window says at save, said at start too: a folder not made yet is expected.
  const waiting = { folders: status.folders.filter((f) => !broken(f)) };
  const warnings = settingsWarnings(waiting, isDirectory).map((w) => `Note: ${w}`);
  return [
    `Ferry agent running as device "${status.deviceName}" (${status.deviceId}), data in ${dataDir}`,
    ...(folders.length
      ? [status.state === 'paused' ? "Paused (resume in the UI or with 'ferry resume'); folders:" : 'Syncing:', ...folders]
      : ['No folders configured yet: add one in the UI or with --folder.']),
    ...warnings,
    `control: ${host.control.url}`,
    `ui: ${host.control.createLoginUrl()}`,
    `(the ui: link works once; 'ferry ui --data ${dataDir}' prints a new one)`,
  ];
}
