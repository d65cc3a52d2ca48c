import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isFerryError } from '../../../protocol/errors';
import { startServer } from '../../../server/main';
import { holdConsole, LOG_LEVELS, releaseConsole, type LogLevel } from '../../logging';
import { parseFolderFlag, readSettingsFile, resolveSettings } from '../agent-settings';
import { pairWithEmbeddedServer } from '../device-pairing';
import { fileFolderProblems } from '../../engine/agent/folder-rules';
import { describeHost, reportStateChanges, startHost, stopOnSignals } from '../agent-host';
import { SETTINGS_FILE } from '../control-token';
import { listenOnStablePort, SERVER_PORT_FILE } from '../control-port';
import { EXIT_FAILURE, parseCommand, processIo, usageError } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { COMMAND_SUMMARIES } from './summaries';
import { resolveDataDir } from './with-agent';

/**
 * The embedded default (what `npm start` runs where Electron cannot start): the reference
 * server in-process on 127.0.0.1 and the agent syncing ~/Ferry to it, with the web UI.
 */
const options = {
  data: { type: 'string' },
  folder: { type: 'string' },
  port: { type: 'string' },
  'control-port': { type: 'string' },
  'log-level': { type: 'string' },
  'device-name': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const definition = {
  name: 'start',
  summary: COMMAND_SUMMARIES.start,
  options,
  flags: [
    ['--data DIR', 'where Ferry keeps its state (default: $FERRY_HOME or ~/.ferry); the server keeps its data in DIR/server'],
    ['--folder LOCAL[=REMOTE_ID]', 'the folder to sync (default: ~/Ferry)'],
    ['--port N', "the embedded server's port on 127.0.0.1 (default: the one this data directory used last; 0: any free one)"],
    ['--control-port N', "the control API and web UI's port on 127.0.0.1 (default: the one this data directory used last)"],
    ['--device-name NAME', 'how this device is named in conflict copies and to other devices; kept for later starts (default: the host name)'],
    ['--log-level L', `one of ${LOG_LEVELS.join(', ')} (default info) in DIR/logs/agent.log; the console shows warnings, errors and state changes unless a level is given`],
    ['-h, --help', 'show this help'],
  ],
  examples: ['ferry start', 'ferry start --folder ~/Documents/Shared=shared --control-port 7777'],
} satisfies CommandDefinition<typeof options>;

function portFlag(raw: unknown): number | 'stable' | undefined {
  if (raw === undefined) return 'stable';
  const port = Number(raw);
  return Number.isInteger(port) && port >= 0 && port <= 65535 ? port : undefined;
}

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const values = parsed.values;
  const logLevel = values['log-level'] as LogLevel | undefined;
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) {
    return usageError(definition, io, `--log-level must be one of ${LOG_LEVELS.join(', ')}`).code;
  }
  const port = portFlag(values.port);
  const controlPort = portFlag(values['control-port']);
  if (port === undefined || controlPort === undefined) return usageError(definition, io, 'ports are numbers from 0 to 65535').code;

  const dataDir = resolveDataDir(values.data);
  const serverDir = path.join(dataDir, 'server');
  mkdirSync(serverDir, { recursive: true, mode: 0o700 });
  const folder = parseFolderFlag(values.folder ?? path.join(os.homedir(), 'Ferry'), process.cwd(), 0);
  // A file there is no folder to make (found by a new-user try: "EEXIST: file already exists, mkdir").
  const isFile = fileFolderProblems([folder])['folders.0.localPath'];
  if (isFile !== undefined) return usageError(definition, io, `--folder ${folder.localPath} ${isFile}`).code;
  mkdirSync(folder.localPath, { recursive: true });

  // Its port stays the one it had (DIR/server-port), as the control port does: a device paired with it keeps its address.
  const server = await listenOnStablePort(dataDir, port === 'stable' ? undefined : port, (p) => startServer({ dataDir: serverDir, port: p, host: '127.0.0.1' }), SERVER_PORT_FILE);
  try {
    // The agent syncs as a paired device of the local user, like any other device would.
    const token = await pairWithEmbeddedServer({ serverDir, serverUrl: server.url, dataDir, savedToken: readSettingsFile(path.join(dataDir, SETTINGS_FILE), 'saved settings').token });
    const saved = readSettingsFile(path.join(dataDir, SETTINGS_FILE), 'saved settings');
    const settings = resolveSettings([
      { source: 'saved settings', values: saved },
      // The embedded server is this process: its address and token always win.
      {
        source: 'embedded server',
        values: {
          serverUrl: server.url,
          token,
          ...(values.folder || !Array.isArray(saved.folders) || saved.folders.length === 0 ? { folders: [folder] } : {}),
        },
      },
    ]);
    // What runs is said first; the warnings of the start come after it.
    holdConsole();
    const host = await startHost({
      dataDir,
      settings,
      ...(controlPort === 'stable' ? {} : { controlPort }),
      ...(logLevel ? { logLevel } : {}),
      ...(typeof values['device-name'] === 'string' ? { deviceName: values['device-name'] } : {}),
      onStop: () => server.close(),
    });
    // Listening for Ctrl+C before saying it runs: a signal sent on reading these lines stops it cleanly.
    const stopped = stopOnSignals(host, io.out);
    io.out(`Ferry is running headless with an embedded reference server at ${server.url} (data in ${serverDir}).`);
    for (const line of describeHost(host, dataDir)) io.out(line);
    io.out('Open the ui: link above in a browser. Stop with Ctrl+C.');
    releaseConsole();
    const stopReporting = reportStateChanges(host.agent, io.out);
    try {
      return await stopped;
    } finally {
      stopReporting();
    }
  } catch (error) {
    releaseConsole();
    await server.close();
    if (!isFerryError(error)) throw error;
    io.err(`ferry start: ${error.message}`);
    return EXIT_FAILURE;
  }
}
