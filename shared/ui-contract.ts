import { z } from 'zod';
import { SettingsUpdate, SettingsView } from './settings';

/**
 * The UI contract, declared once: the Electron IPC (preload bridge + main/app handlers) and the
 * headless control API (HTTP + SSE, main/control) both serve exactly these methods and events,
 * and the renderer calls them through either transport. Pure module: zod only.
 */

// ── settings: declared in ./settings (the engine reads them too), part of this contract ──

export { FolderSettings, RemoteFolderId, Settings, SettingsUpdate, SettingsView, fieldErrors } from './settings';
export type { SettingsInput } from './settings';
// ── status, queue, activity ──

/**
 * auth_failed: the server answers but refuses the token (offline: it cannot be reached).
 * waiting: a folder holds a bulk delete until the user answers (it needs them; nothing failed).
 */
export const AgentState = z.enum(['idle', 'syncing', 'paused', 'offline', 'auth_failed', 'waiting', 'error']);
export type AgentState = z.infer<typeof AgentState>;

export const QueueState = z.enum(['pending', 'in_flight', 'retry_wait', 'failed', 'done']);
export type QueueState = z.infer<typeof QueueState>;

export const QueueCounts = z.record(QueueState, z.int().min(0));
export type QueueCounts = z.infer<typeof QueueCounts>;

/** disk_full: a write failed for want of space (`error` says which disk); it resumes by itself. */
export const FolderState = z.enum(['ok', 'scanning', 'error', 'paused_mass_delete', 'disk_full']);

export const FolderStatus = z.object({
  id: z.string(),
  localPath: z.string(),
  remoteId: z.string(),
  state: FolderState,
  error: z.string().nullable(),
  /** In state error only because the folder does not exist yet: it waits to be created, then syncs (no fault). */
  notMadeYet: z.literal(true).optional(),
  /**
   * In state error because the synced folder is gone ('folder': deleted, moved, or its disk not
   * mounted) or its .ferry marker is ('marker': deleted and made again, or an empty mount point).
   * `syncAfresh` takes it up as new.
   */
  gone: z.enum(['marker', 'folder']).optional(),
  /** While the folder's pulls fail: the last failure's code and message, when, and the next try. */
  pullError: z.string().nullable().optional(),
  /** Changes from the server that wait for the user here (a folder renamed to a name that cannot be synced), in a line: no failure. */
  pullWait: z.string().optional(),
  /** Changes from the server its pull is applying now (absent when none is): not in sync until they are here. */
  incoming: z.int().min(1).optional(),
  lastSyncAt: z.string().nullable(),
  /** Set while a mass delete waits for the user: how many files it would delete, and what. */
  pendingDelete: z
    .object({
      count: z.int(),
      total: z.int(),
      /** scan: deleted on this computer; pull: deleted elsewhere, by `devices`. */
      side: z.enum(['scan', 'pull']),
      /** A few of the paths it deletes, sorted. */
      sample: z.array(z.string()),
      /** The devices that deleted them (pull side; empty when the server did not say). */
      devices: z.array(z.string()),
      /**
       * Those of `count` not held back, with the first few paths (not in `sample`): scan side, whose
       * delete reached the server before the hold; pull side, deleted here by the pulls just before it
       * (docs/conflict-rules.md, the window). Delete leaves them out; Cancel brings them back too.
       */
      sent: z.object({ count: z.int().min(1), sample: z.array(z.string()) }).optional(),
    })
    .nullable(),
  /** The last confirmed mass delete while the user can undo it (it outlives a restart for a day). */
  undoDelete: z
    .object({
      count: z.int(),
      /** Of those, the files here again (made again, or restored already): Undo leaves them as they are. */
      back: z.int().min(0),
      side: z.enum(['scan', 'pull']),
      /** The devices whose deletes a confirmed pull applied, by name (none for this computer's own). */
      devices: z.array(z.string()),
      confirmedAt: z.string(),
      expiresAt: z.string(),
      /** A few of the paths it deleted, sorted. */
      sample: z.array(z.string()),
      /** Its deletes this computer has still to send: Undo waits for them. */
      sending: z.int().min(0),
    })
    .nullable()
    .optional(),
  /** This folder's queue counts, so a folder filter can show its own. */
  counts: z.record(QueueState, z.int().min(0)).optional(),
  /** The files recorded in the folder and their bytes (at most a few seconds old). */
  files: z.int().min(0).optional(),
  bytes: z.number().min(0).optional(),
  /** Conflict copies this computer made that are still on disk (listConflicts names them). */
  conflicts: z.int().min(0).optional(),
  /**
   * Names here that cannot be synced (docs/conflict-rules.md, "Names that cannot be synced"):
   * how many, and the first 20 of them with why. Not in the queue: never sent.
   */
  unsyncable: z.object({ count: z.int().min(0), shown: z.array(z.object({ path: z.string(), reason: z.string() })) }).optional(),
  /**
   * Paths the server has that an ignore rule keeps from here (docs/conflict-rules.md, "Ignored
   * paths"): not in sync, so the folder never says "everything in sync" beside them (absent: none).
   */
  ignoredOnServer: z.int().min(1).optional(),
});
export type FolderStatus = z.infer<typeof FolderStatus>;

export const Rates = z.object({
  uploadBytesPerSec: z.number().min(0),
  downloadBytesPerSec: z.number().min(0),
  itemsPerSec: z.number().min(0),
});

export const Status = z.object({
  state: AgentState,
  /** Why the agent is in this state (offline, auth_failed, waiting, error, paused), in words for the user. */
  reason: z.string().nullable().optional(),
  counts: QueueCounts,
  folders: z.array(FolderStatus),
  lastSyncAt: z.string().nullable(),
  rates: Rates,
  /** The run in progress, if any: items and bytes left. */
  run: z.object({ name: z.string(), itemsLeft: z.int(), bytesLeft: z.number() }).nullable(),
  deviceId: z.string(),
  deviceName: z.string(),
  /** The user and credential a pairing signed this device in as, while its stored token is that pairing's (null: a token typed in). */
  pairedAs: z.object({ user: z.string(), credential: z.string() }).nullable().optional(),
});
export type Status = z.infer<typeof Status>;

export const QueueItem = z.object({
  id: z.int(),
  folderId: z.string(),
  path: z.string(),
  /** move: a rename or move of a file or folder, from `movedFrom`. */
  op: z.enum(['upsert', 'delete', 'mkdir', 'rmdir', 'move']),
  movedFrom: z.string().optional(),
  state: QueueState,
  attempts: z.int(),
  nextAttemptAt: z.string().nullable(),
  bytesDone: z.number(),
  bytesTotal: z.number(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  updatedAt: z.string(),
});
export type QueueItem = z.infer<typeof QueueItem>;

export const QueueQuery = z.strictObject({
  state: QueueState.optional(),
  folderId: z.string().optional(),
  offset: z.int().min(0).default(0),
  limit: z.int().min(1).max(1000).default(100),
});
export type QueueQuery = z.input<typeof QueueQuery>;

export const QueuePage = z.object({ items: z.array(QueueItem), total: z.int() });
export type QueuePage = z.infer<typeof QueuePage>;

export const ActivityKind = z.enum(['uploaded', 'downloaded', 'moved', 'deleted', 'conflict', 'failed', 'skipped', 'sync', 'info']);
export const ActivityEntry = z.object({
  id: z.int(),
  at: z.string(),
  folderId: z.string().nullable(),
  kind: ActivityKind,
  path: z.string().nullable(),
  message: z.string(),
});
export type ActivityEntry = z.infer<typeof ActivityEntry>;

/** One device's state of a folder, as it last reported it to the server. */
export const DeviceView = z.object({
  device: z.string(),
  name: z.string(),
  version: z.string(),
  /** This agent itself. */
  self: z.boolean(),
  lastSeen: z.string(),
  /** Changes by other devices it has not applied yet; null when unknown (it never pulled). */
  behind: z.int().min(0).nullable(),
  upToDate: z.boolean(),
  /** Its own changes not sent yet, and its paths failing for good. */
  pending: z.int().min(0),
  failedCount: z.int().min(0),
  failures: z.array(z.object({ path: z.string(), code: z.string() })),
  /** Its credential was revoked since its last report: what it reported is as it was then. */
  signedOut: z.boolean().optional(),
  /** The folder is in error there and nothing syncs (its error code: the folder gone, its marker gone…). */
  folderError: z.string().optional(),
  /** Its user paused syncing there. */
  paused: z.boolean().optional(),
  /** Of `failedCount`, the names there that cannot be synced: shown apart, not as failing. */
  unsyncableCount: z.int().min(0).optional(),
  /** A bulk delete there waits for its user's answer: its unsent or unapplied changes wait on that. */
  massDeleteHeld: z.boolean().optional(),
  /** Its agent was quit (stopped cleanly) at `lastSeen`: not running, its figures as they were then. */
  stopped: z.boolean().optional(),
});
export type DeviceView = z.infer<typeof DeviceView>;

export const FolderDevices = z.object({
  folderId: z.string(),
  devices: z.array(DeviceView),
  /** Why the list could not be read (offline, refused), else null. */
  error: z.string().nullable(),
});
export type FolderDevices = z.infer<typeof FolderDevices>;

/** What the agent knows of one path and why it is not in sync (`ferry why`, the why panel). */
export const WhyCode = z.enum([
  'ignored',
  /** Said beside the verdict of a path no rule ignores: rules that can match nothing (docs/conflict-rules.md). */
  'dead_rule',
  'paused',
  'offline',
  'signed_out',
  'held',
  'folder_error',
  'disk_full',
  'failed',
  'retry_wait',
  'in_flight',
  'pending',
  'pull_failed',
  'pulling',
  'pull_refused',
  'conflict',
  'unsyncable',
  'not_scanned',
  'not_on_server',
  'on_server',
  'changed_locally',
  'in_sync',
  'unknown',
]);
export const PathExplanation = z.object({
  folderId: z.string(),
  path: z.string(),
  inSync: z.boolean(),
  /** Never empty: the deciding reason first. */
  reasons: z.array(z.object({ code: WhyCode, message: z.string() })).min(1),
  /** `link`: a symbolic link; `special`: a device, pipe or socket (neither is synced). */
  local: z.object({ exists: z.boolean(), kind: z.enum(['file', 'dir', 'link', 'special']).nullable(), size: z.number().nullable(), modifiedAt: z.string().nullable() }),
  synced: z.object({ revision: z.string().nullable(), size: z.number() }).nullable(),
  /** Deleted here, and the delete not sent yet (queued, held, or failing). */
  deletedHere: z.boolean().optional(),
  /**
   * The folder's last failed pull while its pulls fail: when, whether retryable, the next try
   * (untilOnline: none is scheduled, the pull runs once the server answers again).
   */
  lastPullError: z
    .object({ code: z.string(), message: z.string(), at: z.string(), retryable: z.boolean(), nextTryAt: z.string().nullable(), untilOnline: z.boolean().optional() })
    .nullable()
    .optional(),
});
export type PathExplanation = z.infer<typeof PathExplanation>;
// ── history and restore (docs/sync-api.md, "History and restore") ──

export const FileVersion = z.object({
  revision: z.string(),
  kind: z.enum(['file', 'dir']),
  /** A deletion: no content. */
  deleted: z.boolean(),
  size: z.number(),
  mtime: z.number(),
  modifiedAt: z.string(),
  /** The writer's device id, and its name from the device digests (a short form of the id when none names it). */
  device: z.string(),
  deviceName: z.string().optional(),
  /** A move's revision: the path it had before, where its earlier versions are. */
  movedFrom: z.string().optional(),
  /** A move's tombstone (deleted): the path it was renamed to, where its later versions are. */
  movedTo: z.string().optional(),
  /** A restore's revision: the revision whose content it brought back. */
  restoredFrom: z.string().optional(),
  /** A live file's content fingerprint (SHA-256 over its block hashes): equal content, equal hash. Absent for deletions, folders, and from an older server. */
  contentHash: z.string().optional(),
});
export type FileVersion = z.infer<typeof FileVersion>;

/** What a live file version holds (History's View): its first PREVIEW_BYTES, as text or said to be binary. */
export const VersionPreview = z.object({
  revision: z.string(),
  /** The version's size in bytes. */
  size: z.number(),
  /** How many of its bytes `text` holds (0 when binary). */
  shownBytes: z.number(),
  /** The version has more bytes than were read: `text` is its beginning only. */
  truncated: z.boolean(),
  /** Its first bytes as text (UTF-8 without NUL); null: binary content. */
  text: z.string().nullable(),
});
export type VersionPreview = z.infer<typeof VersionPreview>;

/** A conflict copy this computer made, still on disk: `path` took the other device's version, `copyPath` keeps this one's. */
export const ConflictCopy = z.object({
  folderId: z.string(),
  path: z.string(),
  copyPath: z.string(),
  /** The device whose version took the path, and its name. */
  device: z.string(),
  deviceName: z.string(),
  /** That version was a restore the device asked for, of this revision. */
  restoredFrom: z.string().nullable(),
  /**
   * Null: this computer made the copy, which keeps its version. Else the name of the device that
   * made it, whose version the copy keeps (it came through the pull; `device` is then '').
   */
  madeBy: z.string().nullable(),
  detectedAt: z.string(),
});
export type ConflictCopy = z.infer<typeof ConflictCopy>;

export const DeletedFile = z.object({
  path: z.string(),
  kind: z.enum(['file', 'dir']),
  /** The deletion's revision. */
  revision: z.string(),
  deletedAt: z.string(),
  device: z.string(),
  deviceName: z.string().optional(),
  /** The version a restore brings back; null when the server keeps none. */
  lastLive: FileVersion.nullable(),
});
export type DeletedFile = z.infer<typeof DeletedFile>;

export const RestoreInput = z.union([
  /**
   * These paths: a given revision (one path), their state at a moment, or else their previous
   * version. `dryRun`: nothing is restored; the result's `wouldRestore` lists what would be.
   */
  z.strictObject({
    folderId: z.string(),
    paths: z.array(z.string().min(1)).min(1).max(10_000),
    revision: z.string().optional(),
    at: z.iso.datetime({ offset: true }).optional(),
    dryRun: z.boolean().optional(),
  }),
  /**
   * Deleted files back at their last version, each only while still deleted (one written again
   * since is left as it is): these paths, or every deleted file (under a prefix, deleted since a moment).
   */
  z.strictObject({
    folderId: z.string(),
    deleted: z.literal(true),
    paths: z.array(z.string().min(1)).min(1).max(10_000).optional(),
    prefix: z.string().min(1).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
  }),
]);
export type RestoreInput = z.input<typeof RestoreInput>;

export const RestoreResult = z.object({
  /** Files back. */
  restored: z.int().min(0),
  /** Folders back: those asked for, and the deleted ones above what came back. */
  folders: z.int().min(0),
  failed: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })),
  skipped: z.array(z.object({ path: z.string(), reason: z.string(), kind: z.enum(['file', 'dir']).optional() })),
  /** The files back, by path (at most RESTORED_PATHS_SHOWN of them; `restored` counts them all). */
  paths: z.array(z.string()).optional(),
  /** The same files, each with its new revision and the revision whose content it brought back. */
  versions: z.array(z.object({ path: z.string(), revision: z.string(), restoredFrom: z.string().optional() })).optional(),
  /**
   * A dry run (`dryRun`): nothing was restored; what would be, each path to which revision (of
   * `from`, its name then, when renamed since), with that version's time and size where known.
   * At most RESTORED_PATHS_SHOWN; `wouldCount` counts them all.
   */
  wouldRestore: z
    .array(z.object({ path: z.string(), revision: z.string(), from: z.string().optional(), kind: z.enum(['file', 'dir']), modifiedAt: z.string().optional(), size: z.number().optional() }))
    .optional(),
  wouldCount: z.int().min(0).optional(),
});
/** How many restored paths a result names. */
export const RESTORED_PATHS_SHOWN = 1000;
export type RestoreResult = z.infer<typeof RestoreResult>;

/** The settings form with a pairing code: traded for this device's own token, which is then saved. */
export const PairDeviceInput = SettingsUpdate.omit({ token: true }).extend({
  pairingCode: z.string().trim().min(1, 'enter the pairing code from `ferry server pair`').max(64, 'a pairing code is 16 letters and digits'),
});
export type PairDeviceInput = z.input<typeof PairDeviceInput>;

// ── methods: one entry per action, input and output schemas ──

const Empty = z.strictObject({}).default({});
const Ok = z.object({ ok: z.literal(true) });
const FolderRef = z.strictObject({ folderId: z.string() });

export const methods = {
  getStatus: { input: Empty, output: Status },
  listQueue: { input: QueueQuery, output: QueuePage },
  listActivity: { input: z.strictObject({ limit: z.int().min(1).max(1000).default(100) }), output: z.array(ActivityEntry) },
  syncNow: { input: z.strictObject({ folderId: z.string().optional() }).default({}), output: Ok },
  pause: { input: Empty, output: Ok },
  resume: { input: Empty, output: Ok },
  retry: {
    input: z.union([z.strictObject({ id: z.int() }), z.strictObject({ all: z.literal(true) })]),
    output: z.object({ retried: z.int() }),
  },
  confirmMassDelete: { input: FolderRef, output: Ok },
  cancelMassDelete: { input: FolderRef, output: Ok },
  /** Restores exactly what the folder's last confirmed mass delete removed; refused (undo_pending) while its deletes are still being sent. */
  undoMassDelete: { input: FolderRef, output: RestoreResult },
  dismissUndo: { input: FolderRef, output: Ok },
  /** A folder that is gone, or whose marker is (`gone`), taken up as new: what this device recorded of it is forgotten, nothing is deleted. */
  syncAfresh: { input: FolderRef, output: Ok },
  explainPath: { input: z.strictObject({ path: z.string().min(1), folderId: z.string().optional() }), output: PathExplanation },
  listDevices: { input: z.strictObject({ folderId: z.string().optional() }).default({}), output: z.array(FolderDevices) },
  /** `nameNow`: the file's name now, where its moves (one or more) took it since. */
  getHistory: { input: z.strictObject({ folderId: z.string(), path: z.string().min(1) }), output: z.object({ items: z.array(FileVersion), nameNow: z.string().optional() }) },
  /** A live file version's first 64 KiB; refused (version_deleted, version_is_folder, unknown_revision, preview_unsupported) when there is nothing to show. */
  previewVersion: {
    input: z.strictObject({ folderId: z.string(), path: z.string().min(1), revision: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be a revision number') }),
    output: VersionPreview,
  },
  listDeleted: {
    input: z.strictObject({ folderId: z.string(), prefix: z.string().min(1).optional(), since: z.iso.datetime({ offset: true }).optional(), limit: z.int().min(1).max(100_000).default(1000) }),
    output: z.object({ items: z.array(DeletedFile) }),
  },
  restore: { input: RestoreInput, output: RestoreResult },
  /** Conflict copies still on disk, newest first (every folder's, or one's): unlike Activity's lines, none falls off. */
  listConflicts: { input: z.strictObject({ folderId: z.string().optional() }).default({}), output: z.object({ items: z.array(ConflictCopy) }) },
  getSettings: { input: Empty, output: SettingsView },
  updateSettings: { input: SettingsUpdate, output: SettingsView },
  /** "Connect with a pairing code": the settings with a one-time code from `ferry server pair` in place of a token. */
  pairDevice: { input: PairDeviceInput, output: SettingsView },
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type MethodInput<M extends MethodName> = z.input<Methods[M]['input']>;
export type MethodOutput<M extends MethodName> = z.output<Methods[M]['output']>;
export const methodNames = Object.keys(methods) as MethodName[];

// ── events pushed to the UI (IPC `ferry:event`, SSE `/api/events`) ──

export const AgentEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), status: Status }),
  /** Items that changed (state, progress); the UI patches its view or refetches its page. */
  z.object({ type: z.literal('queue'), items: z.array(QueueItem) }),
  z.object({ type: z.literal('activity'), entry: ActivityEntry }),
  z.object({ type: z.literal('settings'), settings: SettingsView }),
]);
export type AgentEvent = z.infer<typeof AgentEvent>;

// ── the answer envelope every call returns, over IPC and HTTP alike ──

export const CallError = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean().default(false),
  /** Validation problems by field path ("folders.0.remoteId"), for inline messages. */
  fields: z.record(z.string(), z.string()).optional(),
});
export type CallError = z.infer<typeof CallError>;

export type CallResult<T> = { ok: true; value: T } | { ok: false; error: CallError };

/** The transport-independent surface the renderer uses (the preload bridge or HTTP+SSE). */
export interface FerryApi {
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<CallResult<MethodOutput<M>>>;
  subscribe(listener: (event: AgentEvent) => void): () => void;
}

/** The server-side counterpart: the agent (or a test fake) implements every method. */
export type ContractHandlers = { [M in MethodName]: (input: z.output<Methods[M]['input']>) => Promise<MethodOutput<M>> };

export const IPC_CHANNEL_PREFIX = 'ferry:';
export const IPC_EVENT_CHANNEL = 'ferry:event';

/** What hosts the agent for a UI (the Electron shell, the control API): handlers plus events. */
export interface AgentService {
  handlers: ContractHandlers;
  subscribe(listener: (event: AgentEvent) => void): () => void;
}
