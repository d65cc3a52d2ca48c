import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../../protocol/errors';
import { folderProblems } from '../engine/agent/folder-rules';
import { transportProblems } from '../remote/transport';
import { RemoteFolderId, Settings, fieldErrors, type FolderSettings, type SettingsInput } from '../../shared/ui-contract';

/**
 * The agent's settings come from, in rising precedence: the defaults of the shared schema,
 * what the UI saved in DIR/settings.json, a `--config FILE`, and the command-line flags.
 * Whatever the source, one schema validates the result and names the field that is wrong.
 */
export type PartialSettings = Partial<Record<keyof SettingsInput, unknown>>;

export function invalidSettings(fields: Record<string, string>, source: string): FerryError {
  const list = Object.entries(fields)
    .map(([field, message]) => `  ${field}: ${message}`)
    .join('\n');
  return new FerryError('invalid_settings', `Invalid settings (${source}):\n${list}`, { details: { fields } });
}

export function readSettingsFile(file: string, source: string): PartialSettings {
  if (!existsSync(file)) {
    if (source === 'saved settings') return {};
    throw new FerryError('invalid_settings', `${source}: ${file} does not exist`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FerryError('invalid_settings', `${source}: ${file} is not valid JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FerryError('invalid_settings', `${source}: ${file} must hold a JSON object of settings`);
  }
  return parsed as PartialSettings;
}

/**
 * `--folder LOCAL[=REMOTE_ID]`: the remote id defaults to the local folder's name. What follows
 * the last `=` is the remote id when it is a valid one; otherwise the whole value is a local path
 * with `=` in it only when that path exists. Taken for one whatever, `Sub=team/docs` synced the
 * folder `Sub=team/docs` (not there yet) with another folder, `docs` (found by a new-user try).
 */
export function parseFolderFlag(value: string, cwd: string, index: number): FolderSettings {
  // `--folder =cc` read as a folder named '=cc' in the working directory (a new-user try); one there is taken.
  if (value.startsWith('=') && !existsSync(path.resolve(cwd, value))) {
    throw invalidSettings({ [`folders.${index}.localPath`]: `--folder needs a local path before '=': --folder ~/Documents${value}` }, '--folder');
  }
  const eq = value.lastIndexOf('=');
  const candidate = eq > 0 ? value.slice(eq + 1) : '';
  const idCheck = RemoteFolderId.safeParse(candidate);
  const hasRemote = eq > 0 && idCheck.success;
  if (eq > 0 && !hasRemote && !existsSync(path.resolve(cwd, value))) {
    const why = idCheck.success ? '' : `: ${idCheck.error.issues[0]?.message ?? 'not a valid id'}`;
    throw invalidSettings({ [`folders.${index}.remoteId`]: `'${candidate}' after '=' is not a valid remote id${why}` }, '--folder');
  }
  const local = path.resolve(cwd, hasRemote ? value.slice(0, eq) : value);
  const remoteId = hasRemote ? candidate : path.basename(local);
  if (!RemoteFolderId.safeParse(remoteId).success) {
    throw invalidSettings(
      { [`folders.${index}.remoteId`]: `'${remoteId}' (the folder's name) is not a valid remote id; pass --folder ${value}=ID` },
      '--folder',
    );
  }
  return { localPath: local, remoteId };
}

export function resolveSettings(layers: Array<{ source: string; values: PartialSettings }>): Settings {
  const merged: PartialSettings = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      if (value !== undefined) merged[key as keyof SettingsInput] = value;
    }
  }
  const result = Settings.safeParse(merged);
  if (!result.success) throw invalidSettings(fieldErrors(result.error), layers.map((l) => l.source).join(' + '));
  const fields = folderProblems(result.data.folders);
  if (Object.keys(fields).length) throw invalidSettings(fields, 'folders');
  const transport = transportProblems(result.data);
  if (Object.keys(transport).length) throw invalidSettings(transport, 'transport');
  return result.data;
}
