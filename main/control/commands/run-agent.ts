import path from 'node:path';
import { isFerryError } from '../../../protocol/errors';
import { holdConsole, LOG_LEVELS, releaseConsole, type LogLevel } from '../../logging';
import { invalidSettings, parseFolderFlag, readSettingsFile, resolveSettings, type PartialSettings } from '../agent-settings';
import { fileFolderProblems } from '../../engine/agent/folder-rules';
import { describeHost, reportStateChanges, startHost, stopOnSignals, writePrivateJson } from '../agent-host';
import { SETTINGS_FILE } from '../control-token';
import { EXIT_FAILURE, EXIT_USAGE, parseCommand, processIo, usageError } from './args';
import type { CommandDefinition, CommandIo } from './args';
import { COMMAND_SUMMARIES } from './summaries';
import { resolveToken } from '../token-source';
import { pairWithServer } from '../device-pairing';
import { preferSmallHeap } from '../../small-heap';
import { resolveDataDir } from './with-agent';
import { connectToAgent } from '../control-client';
import { runningAgentPid } from '../../instance-lock';
import { STATE_DB, storedDeviceName } from '../../engine/agent';
import { untrustedCertificate } from '../../remote/transport';
import { untrustedCertificateWords } from '../../remote/errors';

/** The environment variable `ferry agent` reads its Sync API token from. */
export const AGENT_TOKEN_ENV = 'FERRY_TOKEN';

const options = {
  data: { type: 'string' },
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  pair: { type: 'string' },
  ca: { type: 'string' },
  'allow-insecure-http': { type: 'boolean' },
  folder: { type: 'string', multiple: true },
  config: { type: 'string' },
  'control-port': { type: 'string' },
  'log-level': { type: 'string' },
  'device-name': { type: 'string' },
  concurrency: { type: 'string' },
  'retry-limit': { type: 'string' },
  'bandwidth-limit': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const definition = {
  name: 'agent',
  summary: COMMAND_SUMMARIES.agent,
  options,
  flags: [
    ['--data DIR', 'where the agent keeps its state, logs, device id and control token (default: $FERRY_HOME or ~/.ferry, where the client commands look)'],
    ['--server URL', 'the Sync API server, e.g. http://127.0.0.1:8080'],
    ['--token-file FILE', `read the Sync API token from FILE (or set $${AGENT_TOKEN_ENV}, or "token" in --config; never logged)`],
    ['--token T', 'the token itself: every local user sees it in ps (a warning says so)'],
    ['--pair CODE', 'trade a pairing code from `ferry server pair` for this device\'s own token, kept in DIR/settings.json (0600); later starts need neither'],
    ['--ca FILE', "trust this private CA (PEM) for the server's https certificate, besides the system's; kept in DIR/settings.json"],
    ['--allow-insecure-http', 'allow plain http:// to a server that is not this computer (the token crosses the network unencrypted); refused otherwise'],
    ['--folder LOCAL[=REMOTE_ID]', 'a folder to sync; repeat for several; the remote id defaults to the folder name'],
    ['--config FILE', 'read settings from a JSON file (the settings window\'s fields); flags win'],
    ['--control-port N', 'port of the control API and web UI on 127.0.0.1 (default: the one this DIR used last, so a tab or bookmark keeps working; 0: any free port)'],
    ['--log-level L', `one of ${LOG_LEVELS.join(', ')} (default info) in DIR/logs/agent.log; the console shows warnings, errors and state changes unless a level is given`],
    ['--device-name NAME', 'how this device is named in conflict copies and to other devices; kept for later starts (default: the host name)'],
    ['--concurrency N', 'parallel uploads (default 4)'],
    ['--retry-limit N', 'retries of a retryable error before an item fails (default 3)'],
    ['--bandwidth-limit N', 'upload limit per second: bytes, or with a unit like the settings window: 500K (KB/s), 2M (MB/s); 1 KB = 1000 bytes (default 0: none)'],
    ['-h, --help', 'show this help'],
  ],
  examples: [
    'ferry agent --data ~/.ferry --server http://127.0.0.1:8080 --token-file server-data/token --folder ~/Documents=docs',
    'ferry agent --data ~/.ferry --config ferry.json --control-port 7777',
    'ferry agent --data ~/.ferry --server https://ferry.example.org --pair 7QKM-2D9X-PV4H-0BWE --folder ~/Documents=docs',
  ],
} satisfies CommandDefinition<typeof options>;

type Values = Partial<Record<keyof typeof options, string | string[] | boolean>>;

/** Flags → the settings layer they stand for (numbers stay strings' numbers: the schema checks them). */
export function flagSettings(values: Values, cwd: string, token: string | undefined): PartialSettings {
  const num = (v: unknown) => (typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v);
  const folders = values.folder as string[] | undefined;
  const rate = (v: unknown) => {
    // A negative one too, for the schema to say what it takes ("0 or more"), not "enter a whole number".
    const m = typeof v === 'string' ? /^(-?\d+)\s*([kKmM]?)(?:B\/s)?$/.exec(v.trim()) : null;
    return m ? Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]!) ? 1000 : 1_000_000) : v;
  };
  return {
    serverUrl: values.server,
    token,
    caFile: typeof values.ca === 'string' ? path.resolve(cwd, values.ca) : undefined,
    allowInsecureHttp: values['allow-insecure-http'] === true ? true : undefined,
    folders: folders?.map((f, i) => parseFolderFlag(f, cwd, i)),
    concurrency: num(values.concurrency),
    retryLimit: num(values['retry-limit']),
    bandwidthLimit: rate(values['bandwidth-limit']),
  };
}

/** Flags of a start that a pairing sent to the agent already running does not carry (--server, --ca and --allow-insecure-http it does). */
const IGNORED_BY_RUNNING_AGENT = ['folder', 'config', 'control-port', 'log-level', 'device-name', 'concurrency', 'retry-limit', 'bandwidth-limit'] as const;

/**
 * `ferry agent --pair CODE` while the agent of DIR runs: the running agent trades the code and
 * keeps its token. `transport`: --ca and --allow-insecure-http as given (the README pairs with
 * --ca; the running agent's own were sent in their place, a review found).
 */
async function pairRunningAgent(dataDir: string, code: string, serverUrl: string | undefined, transport: { caFile?: string; allowInsecureHttp?: boolean }, io: CommandIo): Promise<number> {
  const agent = await connectToAgent(dataDir);
  const { hasToken: _has, tokenProtection: _protection, ...current } = await agent.call('getSettings', {});
  const statusBefore = await agent.call('getStatus', {});
  const before = statusBefore.pairedAs ?? null;
  const view = await agent.call('pairDevice', { ...current, ...(serverUrl !== undefined ? { serverUrl } : {}), ...transport, pairingCode: code });
  const after = (await agent.call('getStatus', {})).pairedAs ?? null;
  // Whom it syncs as now, and what the old credential became (a new-user try read an all-clear
  // after pairing as another user, then the folders of the first one failed).
  const who = after ? ` as a device of ${after.user} (credential ${after.credential})` : '';
  io.out(`Paired the agent already running with --data ${dataDir} with ${view.serverUrl}${who}; it syncs with its new token now`);
  if (before && after && before.credential !== after.credential) {
    // Refused already (revoked), it was not this pairing that signed it out (a new-user try read it so).
    io.out(
      statusBefore.state === 'auth_failed'
        ? `Its earlier credential (${before.credential}, ${before.user}) was signed out already: the server had refused it`
        : `Its earlier credential (${before.credential}, ${before.user}) is signed out`,
    );
    // Said as a condition: which folders are whose is the server's to know (a new-user try read it of folders that were ann's all along).
    if (before.user !== after.user) io.out(`A folder of ${before.user}'s that is not shared with ${after.user} fails until it is: 'ferry server share FOLDER --with ${after.user}' on the server`);
  }
  return 0;
}

/** The value of `key` in the last layer that gives one (flags over --config over saved settings). */
function lastGiven(layers: PartialSettings[], key: keyof PartialSettings): unknown {
  return layers.map((layer) => layer[key]).filter((v) => v !== undefined).at(-1);
}

/** The local paths of the saved folders (folders synced already). */
function savedPaths(saved: unknown): string[] {
  return Array.isArray(saved) ? saved.map((f: { localPath?: unknown } | null) => f?.localPath).filter((p): p is string => typeof p === 'string') : [];
}

/** The saved folders (LOCAL=REMOTE) a start's folders leave out. */
export function droppedFolders(saved: unknown, now: ReadonlyArray<{ localPath: string; remoteId: string }>): string[] {
  if (!Array.isArray(saved)) return [];
  const kept = new Set(now.map((f) => `${f.localPath}=${f.remoteId}`));
  return saved
    .filter((f): f is { localPath: string; remoteId: string } => typeof f?.localPath === 'string' && typeof f?.remoteId === 'string')
    .map((f) => `${f.localPath}=${f.remoteId}`)
    .filter((f) => !kept.has(f));
}

/** How long the check at start waits for the server's handshake. */
const CERTIFICATE_CHECK_MS = 10_000;

interface CertificateCheck {
  /** The words of the refusal (main/remote/errors.ts), or null: trusted, not https, or not reached. */
  refused: Promise<string | null>;
  stop(): void;
}

/** Whether the settings trust the server's certificate, asked once at start. */
function startCertificateCheck(settings: { serverUrl: string; caFile?: string | undefined; allowInsecureHttp?: boolean | undefined }): CertificateCheck {
  const ended = new AbortController();
  const refused = untrustedCertificate(settings.serverUrl, settings, CERTIFICATE_CHECK_MS, ended.signal).then(
    (code) => (code === null ? null : untrustedCertificateWords(code, new URL(settings.serverUrl).host, settings.caFile !== undefined)),
    () => null,
  );
  return { refused, stop: () => ended.abort() };
}

export async function run(argv: string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommand(definition, argv, io);
  if (parsed.kind === 'exit') return parsed.code;
  const values = parsed.values as Values;
  const logLevel = values['log-level'] as LogLevel | undefined;
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) {
    return usageError(definition, io, `--log-level must be one of ${LOG_LEVELS.join(', ')}`).code;
  }
  const controlPort = values['control-port'] === undefined ? undefined : Number(values['control-port']);
  if (controlPort !== undefined && (!Number.isInteger(controlPort) || controlPort < 0 || controlPort > 65535)) {
    return usageError(definition, io, '--control-port must be a port number from 0 to 65535').code;
  }
  const dataDir = resolveDataDir(typeof values.data === 'string' ? values.data : undefined);
  let certificateCheck: CertificateCheck | undefined;
  try {
    const resolved = resolveToken({
      flag: values.token as string | undefined,
      file: values['token-file'] as string | undefined,
      env: { name: AGENT_TOKEN_ENV, value: process.env[AGENT_TOKEN_ENV] },
      command: 'ferry agent',
      whenMissing: "it holds the server's token (the server's DIR/token, or what its operator gave you); with accounts, pair instead: --pair CODE",
    });
    for (const warning of resolved.warnings) io.err(warning);
    const saved = readSettingsFile(path.join(dataDir, SETTINGS_FILE), 'saved settings');
    const config = typeof values.config === 'string' ? readSettingsFile(path.resolve(values.config), '--config') : undefined;
    // A first start with nothing to go on: say what to give, in flags, not in settings fields.
    if ([values.server, config?.serverUrl, saved.serverUrl].every((u) => typeof u !== 'string' || u === '')) {
      return usageError(definition, io, `no sync server yet for ${dataDir}: give --server URL with --pair CODE (from 'ferry server pair') or --token-file FILE; or run 'ferry start' for a server of its own on this computer`).code;
    }
    let token = resolved.token;
    if (typeof values.pair === 'string') {
      if (token !== undefined) return usageError(definition, io, `--pair gives this device its own token: leave out --token, --token-file and $${AGENT_TOKEN_ENV}`).code;
      const serverUrl = [values.server, config?.serverUrl, saved.serverUrl].find((u): u is string => typeof u === 'string' && u !== '');
      if (serverUrl === undefined) return usageError(definition, io, '--pair needs --server URL').code;
      // The agent of this data directory runs already (signed out, it says to pair again): the
      // code goes to it, as "Connect with a pairing code" in its settings would send it. Traded
      // here instead, the code was spent and the token saved for an agent that was then refused.
      if (runningAgentPid(dataDir) !== null) {
        const given = {
          ...(typeof values.ca === 'string' ? { caFile: path.resolve(values.ca) } : {}),
          ...(values['allow-insecure-http'] === true ? { allowInsecureHttp: true } : {}),
        };
        const code = await pairRunningAgent(dataDir, values.pair, typeof values.server === 'string' ? values.server : undefined, given, io);
        // Only the pairing reaches it (a new-user try gave --folder and --device-name too, and nothing said they were not applied).
        const ignored = IGNORED_BY_RUNNING_AGENT.filter((flag) => values[flag] !== undefined).map((flag) => `--${flag}`);
        if (ignored.length > 0) io.err(`Note: not applied to the agent already running: ${ignored.join(', ')} (change them in its Settings, or stop it and start it again with them)`);
        return code;
      }
      const layers = [saved, config ?? {}, flagSettings(values, process.cwd(), undefined)];
      const transport = { caFile: lastGiven(layers, 'caFile') as string | undefined, allowInsecureHttp: lastGiven(layers, 'allowInsecureHttp') === true };
      // Named as this device is: --device-name, else the name it was given before (not the host's).
      const deviceName = typeof values['device-name'] === 'string' ? values['device-name'] : storedDeviceName(path.join(dataDir, STATE_DB));
      const paired = await pairWithServer({ dataDir, serverUrl, code: values.pair, ...transport, ...(deviceName !== undefined ? { deviceName } : {}) });
      // The credential's id is the server's (`ferry server devices`, DEVICE), not the id this agent
      // goes by, which it prints when it starts: a new user's try read two ids for one device.
      io.out(`Paired with ${serverUrl} as a device of ${paired.user} (credential ${paired.deviceId}, the DEVICE column of \`ferry server devices\`); its token is kept in ${path.join(dataDir, SETTINGS_FILE)}`);
      if (paired.replacedDeviceId) io.out(`This computer's earlier credential (${paired.replacedDeviceId}) is signed out`);
      token = paired.token;
    }
    const settings = resolveSettings([
      // The file read, by its path: "in --data" read as a flag not given (a new-user try, on the default directory).
      { source: path.join(dataDir, SETTINGS_FILE), values: saved },
      ...(config ? [{ source: '--config', values: config }] : []),
      { source: 'flags', values: flagSettings(values, process.cwd(), token) },
    ]);
    // A new folder that is a file is refused before anything starts, as the settings window refuses it
    // (a new-user try: `--folder ~/afile=x` started, then the folder was "not a directory").
    const files = fileFolderProblems(settings.folders, savedPaths(saved.folders));
    if (Object.keys(files).length > 0) throw invalidSettings(files, 'folders');
    // --folder gives the whole list, as the other flags give their setting: said when it drops
    // saved folders (a new-user try added one with --folder and the others went, unsaid).
    const dropped = droppedFolders(saved.folders, settings.folders);
    // The server's certificate, checked as the settings window checks a new CA or server before it
    // saves (a start with a --ca that did not sign it went offline, unsaid but in a state line).
    // Warned, not refused: the agent runs offline (its link says why) and syncs once the server's
    // certificate or the CA is set right, as it runs with a server that does not answer.
    certificateCheck = startCertificateCheck(settings);
    // Runs for days in the background: memory before the last bit of speed (small-heap.ts).
    preferSmallHeap();
    // What runs is said first; the warnings of the start come after it.
    holdConsole();
    const host = await startHost({
      dataDir,
      settings,
      ...(controlPort !== undefined ? { controlPort } : {}),
      ...(logLevel ? { logLevel } : {}),
      ...(typeof values['device-name'] === 'string' ? { deviceName: values['device-name'] } : {}),
    });
    // What this start runs with, the next one runs with (as a save in the settings window does):
    // `ferry agent` alone starts again with the same server and folders. Written once this start
    // holds the data directory, so a second agent, refused, changes nothing. A token given by
    // --token, --token-file or $FERRY_TOKEN stays where it was given; a paired one is kept.
    const { token: _given, ...kept } = settings;
    const keptToken = typeof values.pair === 'string' ? token : saved.token;
    await writePrivateJson(path.join(dataDir, SETTINGS_FILE), keptToken === undefined ? kept : { ...kept, token: keptToken });
    // Listening for SIGTERM before saying it runs: a signal sent on reading these lines stops it cleanly.
    const stopped = stopOnSignals(host, io.out);
    for (const line of describeHost(host, dataDir)) io.out(line);
    // Said once this start holds the data directory: a second agent, refused, drops nothing (a new-user try read the note, then the refusal).
    if (dropped.length > 0) io.err(`Note: --folder replaces the saved folders; no longer synced: ${dropped.join(', ')} (give every folder to keep with its own --folder)`);
    // Said when the check ends: at once when it ended during the start, or later, not holding the start up.
    void certificateCheck.refused.then((words) => words !== null && io.err(`Warning: ${words}. The agent runs, offline until then.`));
    releaseConsole();
    const stopReporting = reportStateChanges(host.agent, io.out);
    try {
      return await stopped;
    } finally {
      stopReporting();
    }
  } catch (error) {
    releaseConsole();
    if (!isFerryError(error)) throw error;
    io.err(`ferry agent: ${error.message}`);
    return error.code === 'invalid_settings' || error.details?.usage === true ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    // A check still waiting on a server that does not answer does not hold the exit up.
    certificateCheck?.stop();
  }
}
