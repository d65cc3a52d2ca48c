import path from 'node:path';
import type ElectronLog from 'electron-log';
import { loggerOver, redactHook, type Logger, type LogLevel } from '../logging';

/**
 * The shell logs with electron-log/main to <userData>/logs/main.log; the engine logs through
 * main/logging to agent.log next to it. electron-log rotates each at maxSize into
 * `<name>.old.log`. "Open logs" shows this folder.
 */

export interface LogPaths {
  dir: string;
  main: string;
  agent: string;
}

export function logPaths(userData: string): LogPaths {
  const dir = path.join(userData, 'logs');
  return { dir, main: path.join(dir, 'main.log'), agent: path.join(dir, 'agent.log') };
}

export const MAX_LOG_BYTES = 5 * 1024 * 1024;

type MainLogger = Pick<ElectronLog.MainLogger, 'transports' | 'hooks' | 'scope'>;

export function configureShellLogging(log: MainLogger, options: { file: string; level: LogLevel; console: boolean }): void {
  const file = log.transports.file;
  file.level = options.level;
  file.resolvePathFn = () => options.file;
  file.maxSize = MAX_LOG_BYTES;
  // electron-log renders {scope} as " (name)"; unpadded it reads "[info] (ipc) message".
  log.scope.labelPadding = false;
  file.format = '[{y}-{m}-{d} {h}:{i}:{s}.{ms}] [{level}]{scope} {text}';
  log.transports.console.level = options.console ? options.level : false;
  // Last line of defence: whatever a message carries, a token never reaches a transport.
  log.hooks.push(redactHook);
}

/** main/logging's Logger interface on top of electron-log/main, one named scope per module. */
export function shellLogger(log: MainLogger, scope: string, base?: Record<string, unknown>): Logger {
  return loggerOver(log.scope(scope), base);
}
