import { lstatSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FerryError } from '../../../protocol/errors';
import { WrittenSettings, fieldErrors, type Settings } from '../../../shared/settings';
import type { Logger } from '../../logging';
import type { FolderSet } from '../folder/folders';
import type { SettingsUpdate, SettingsView } from './api';
import type { EngineHost } from './engine';
import { goneOf } from '../folder-marker';
import { fileFolderProblems, validateFolders, validateTransport } from './folder-rules';
import type { PairedAs } from './pairing';
import { settingsWarnings } from './status-parts';
import { untrustedCertificateWords } from '../../remote/errors';

export interface SettingsKeeperOptions {
  initial: Settings;
  /** Persists settings changed through the UI (the token included: the host decides how). */
  save: (settings: Settings) => void | Promise<void>;
  tokenProtection: 'os' | 'plaintext';
  folders: FolderSet;
  engine: EngineHost;
  /** False until the agent starts: settings saved before apply at start. */
  running: () => boolean;
  log: Logger;
  /** Whom a pairing signed these settings' server and token in as (null: typed in, or none). */
  pairedAs?: (settings: Settings) => PairedAs | null;
  /** The TLS code of a server certificate these settings would not trust, or null (main/remote/transport.ts, untrustedCertificate). */
  certificateRefused?: (settings: Settings) => Promise<string | null>;
}

/** The root of a folder taken up afresh, made again where it was (not over a file the user put there). */
function makeFolderAgain(root: string): void {
  const st = lstatSync(root, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new FerryError('invalid_request', `${root} is not a folder now: move it away, then choose Sync afresh again`, { status: 409 });
  mkdirSync(root, { recursive: true });
}

/** `~/Second` typed in the browser (which has no folder picker) means the home folder's Second. */
function expandHome<F extends { localPath: string }>(folder: F): F {
  const m = /^~(?=$|[\\/])/.exec(folder.localPath);
  return m ? { ...folder, localPath: path.join(os.homedir(), folder.localPath.slice(1)) } : folder;
}

/**
 * The agent's settings of the moment and how a change takes effect: validated, saved by the
 * host, then applied in place (thresholds, concurrency, bandwidth, ignore rules, folders
 * added or stopped). Only a new server or token, or a folder removed, builds a new engine
 * (nothing the queue holds is lost: what was in flight is sent again).
 */
export class SettingsKeeper {
  private settings: Settings;
  private paired: { key: string; value: PairedAs | null } | undefined;
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: SettingsKeeperOptions) {
    this.settings = o.initial;
  }

  get current(): Settings {
    return this.settings;
  }

  /** What the UI may see: everything but the token. */
  view(settings: Settings = this.settings): SettingsView {
    const { token, ...rest } = settings;
    return { ...rest, hasToken: token.length > 0, tokenProtection: this.o.tokenProtection };
  }

  /**
   * Whom the stored token signs this device in as, when a pairing gave it (null: typed in). Read
   * once per server and token: status asks several times a second. Not part of the settings view,
   * which clients send back as an update.
   */
  pairedAs(): PairedAs | null {
    const key = `${this.settings.serverUrl}\u0000${this.settings.token}`;
    if (this.paired?.key !== key) this.paired = { key, value: this.o.pairedAs?.(this.settings) ?? null };
    return this.paired.value;
  }

  /**
   * Saved one at a time, in the order they came, each read against the settings the last one left
   * (found by review: a save waiting on the certificate check was written after one made meanwhile,
   * which had been told it was saved). Applied outside: a later save's restart still stops an
   * engine whose start waits on a server that does not answer.
   */
  private saving<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.last.then(fn);
    this.last = run.catch(() => undefined);
    return run;
  }

  async update(update: SettingsUpdate): Promise<SettingsView> {
    const { previous, next, changed } = await this.saving(async () => {
      const next = this.parse(update);
      const previous = this.settings;
      await this.refuseUntrusted(previous, next);
      await this.o.save(next);
      this.settings = next;
      return { previous, next, changed: this.o.folders.syncRows(next.folders) };
    });
    const engineRestarted = this.o.running() ? await this.apply(previous, next, changed) : false;
    this.o.log.info('settings changed', { folders: next.folders.length, engineRestarted });
    // A folder moved to another server folder: said, as it does more than it seems to (a new-user try
    // changed the id and read only "saved"; its files went up as a new folder, the others cut off).
    const moved = next.folders.flatMap((f) => {
      const before = previous.folders.find((p) => p.localPath === f.localPath);
      return before && before.remoteId !== f.remoteId
        ? [`${f.localPath} now syncs with the server folder '${f.remoteId}' instead of '${before.remoteId}': its files go there, and the devices that sync '${before.remoteId}' no longer get its changes`]
        : [];
    });
    const warnings = [...moved, ...settingsWarnings(next)];
    // What this save saved (a later one may have been saved while this one was applied).
    const view = this.view(next);
    return warnings.length ? { ...view, warnings } : view;
  }

  /**
   * A synced folder that is gone, or whose marker is (deleted and made again), is taken up afresh
   * when the user asks: what this device recorded of it (index, queue, sync token, conflicts) is
   * forgotten, the folder is made again if it is gone, a new marker is written, and the full pull
   * that follows downloads the server's files, keeping what is here beside them as any first sync
   * does (nothing is deleted, here or on the server). As removing the folder and adding it again
   * would, in one step. Refused for a folder that syncs, and for one holding another's marker.
   */
  async syncAfresh(folderId: string): Promise<void> {
    const { folders } = this.o;
    const folder = folders.require(folderId);
    const gone = goneOf(folder);
    if (gone === undefined) {
      throw new FerryError('not_detached', `The folder ${folder.id} is not gone, nor its marker: nothing to take up afresh`, { status: 409 });
    }
    // Stopped first, the engine too: nothing of its pulls or pushes writes the folder's records
    // while they are forgotten (as a folder removed in the settings builds a new engine).
    const running = this.o.running();
    await folders.stop(folderId);
    if (running) await this.o.engine.stop();
    try {
      if (gone === 'folder') makeFolderAgain(folder.localRoot);
      const made = gone === 'folder' ? ' made again' : '';
      folders.forget(folderId, `Synced afresh: ${folder.localRoot}${made} (what this computer recorded of it forgotten); the server's files come into it, what is in it stays, nothing is deleted`);
      folders.syncRows(this.settings.folders);
    } finally {
      if (running) {
        await this.o.engine.start();
        folders.start(folderId);
      }
    }
    this.o.log.info('folder taken up afresh', { folder: folderId });
  }

  private parse(update: SettingsUpdate): Settings {
    // The stored token belongs to the stored server: a new address gets no token but the one
    // sent with it (none is 'enter the server token'), so it never reaches another host.
    const keptToken = update.serverUrl === this.settings.serverUrl ? this.settings.token : '';
    const candidate = WrittenSettings.safeParse({ ...update, folders: update.folders.map(expandHome), token: update.token ? update.token : keptToken });
    if (!candidate.success) {
      const fields = fieldErrors(candidate.error);
      // Said as why (a new-user try read "enter the server token" beside "leave empty to keep it").
      if (fields.token !== undefined && !update.token && this.settings.token && keptToken === '') {
        fields.token = `the stored token is for ${this.settings.serverUrl}, not this address: check the Server URL, or enter this server's token, or pair this device with it`;
      }
      throw new FerryError('invalid_settings', 'The settings are not valid', { details: { fields } });
    }
    // A new folder's path that is a file now is refused here (fileFolderProblems: "the folder is gone" came after).
    const fileFields = fileFolderProblems(candidate.data.folders, this.settings.folders.map((f) => f.localPath));
    if (Object.keys(fileFields).length > 0) {
      throw new FerryError('invalid_settings', Object.entries(fileFields).map(([k, v]) => `${k}: ${v}`).join('; '), { details: { fields: fileFields } });
    }
    validateFolders(candidate.data.folders);
    validateTransport(candidate.data);
    return candidate.data;
  }

  /**
   * A new server or CA whose certificate would not be trusted is refused before it is saved, on
   * the CA field (a new-user try saved a CA that did not sign the server's and went offline; a
   * wrong CA at pairing was refused already). A server not reached is not refused: its link says why.
   */
  private async refuseUntrusted(previous: Settings, next: Settings): Promise<void> {
    if (previous.serverUrl === next.serverUrl && previous.caFile === next.caFile) return;
    const code = await this.o.certificateRefused?.(next);
    if (!code) return;
    const host = new URL(next.serverUrl).host;
    const caFile = untrustedCertificateWords(code, host, next.caFile !== undefined);
    throw new FerryError('invalid_settings', `caFile: ${caFile}`, { details: { fields: { caFile } } });
  }

  /** Applies a saved change to the running agent; true when the engine was rebuilt. */
  private async apply(previous: Settings, next: Settings, { added, removed }: { added: string[]; removed: string[] }): Promise<boolean> {
    const { folders, engine } = this.o;
    // The link itself: a new server, credential or trust (CA file, plain http) needs a new client.
    const serverChanged =
      previous.serverUrl !== next.serverUrl || previous.token !== next.token || previous.caFile !== next.caFile || previous.allowInsecureHttp !== next.allowInsecureHttp;
    for (const id of removed) await folders.stop(id);
    // A folder removed takes its work in flight with it: a new engine. Added ones join this one.
    const restart = serverChanged || removed.length > 0;
    if (restart) {
      await engine.stop();
      await engine.start();
    } else {
      engine.applyOptions(next);
      if (added.length > 0) await engine.foldersAdded(added);
    }
    for (const id of added) folders.start(id);
    if (previous.ignoreRules.join('\n') !== next.ignoreRules.join('\n')) folders.setIgnoreRules(next.ignoreRules, added);
    // New settings may be what a failed item needed (see SETTINGS_THAT_RETRY in push/pusher.ts).
    engine.parts?.pusher.retryAll();
    return restart;
  }
}
