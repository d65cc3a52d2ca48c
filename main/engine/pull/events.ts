import { EventEmitter } from 'node:events';
import type { FerryError } from '../../../protocol/errors';
import type { MassDeleteVerdict } from '../folder/mass-delete';

export interface PullSummary {
  folderId: string;
  /** A full sync (no token, or the token had expired). */
  full: boolean;
  expired: boolean;
  pages: number;
  downloaded: number;
  deleted: number;
  recorded: number;
  reuploaded: number;
  /** Remote moves applied as local renames (docs/conflict-rules.md, M1/M2). */
  moved: number;
  conflicts: number;
  skipped: number;
  /** The run stopped before applying anything because of the mass-delete guard (or the folder is paused). */
  paused: boolean;
  tokenStored: boolean;
  durationMs: number;
}

export interface PullerEvents {
  /** `restoredFrom`: the remote version was a restore, of this revision (docs/sync-api.md, "History and restore"). */
  /** `from`: where a move took it from. */
  /** `device`: the device whose change it was, as the feed names it ('' when none: a full sync's delete). */
  /** `to`: a delete of a path the same pull brought under another name (a folder renamed there, applied file by file). */
  applied: [{ folderId: string; path: string; action: 'downloaded' | 'deleted' | 'recorded' | 'reuploaded' | 'moved'; rule: string; restoredFrom?: string; from?: string; to?: string; device?: string }];
  conflict: [{ folderId: string; path: string; copyPath: string; device: string }];
  skipped: [{ folderId: string; path: string; reason: string }];
  error: [{ folderId: string; error: FerryError }];
  paused: [{ folderId: string; verdict: MassDeleteVerdict }];
  /**
   * The pull-side pause ended (answered, or withdrawn: its deletes were undone on the server),
   * emitted in the same turn as the resume: local deletes that waited are weighed before any claim.
   */
  holdEnded: [{ folderId: string }];
  pulled: [PullSummary];
  /** A pull starts applying `changes` it found, or is done with them (0). */
  applying: [{ folderId: string; changes: number }];
  /** A block's bytes came from the server (verified), as a download goes: the download rate. */
  received: [{ folderId: string; bytes: number }];
}

/** A typed EventEmitter for the puller's events. */
export class PullerEmitter extends EventEmitter<PullerEvents> {}
