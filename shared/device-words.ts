/**
 * A device in the words every surface uses (`ferry devices`, `ferry status`, the Folders page,
 * the held-delete banner): its name, told apart from a twin, and its state of a folder.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Agents name themselves to the server by a random id: its first 8 characters tell devices apart. */
export function deviceLabel(device: string): string {
  return UUID.test(device) ? `device ${device.slice(0, 8)}` : device;
}

/**
 * A device's name among `all`, with its short id when another device has the same name (two
 * computers with the same host name would otherwise read as one).
 */
export function distinctName(device: { device: string; name: string }, all: ReadonlyArray<{ device: string; name: string }>): string {
  const twin = all.some((d) => d.device !== device.device && d.name === device.name);
  return twin ? `${device.name} (${deviceLabel(device.device)})` : device.name;
}

interface DeviceCounts {
  /** Others' changes it has not applied; null when it never pulled. */
  behind: number | null;
  /** Its own changes not sent yet. */
  pending: number;
  /** Its paths failing for good. */
  failedCount: number;
  /** Of those, its names that cannot be synced (absent: none, or a server before it). */
  unsyncableCount?: number;
  /** Its credential was revoked: what it last reported is as it was then. */
  signedOut?: boolean;
  /** The folder is in error there and nothing syncs: its error code. */
  folderError?: string;
  /** Its user paused syncing there. */
  paused?: boolean;
  /** This device itself: its folder is "here", not "there" (a new-user try read "missing there" on its own line). */
  self?: boolean;
  /** A bulk delete there waits for its user's answer. */
  massDeleteHeld?: boolean;
  /** When the server last heard from it (ISO). */
  lastSeen?: string;
  /** Its agent was quit (stopped cleanly) at `lastSeen`: its last report said so. */
  stopped?: boolean;
}

/**
 * A running agent reports at least once a minute (its heartbeat): one not heard from for three
 * is stopped or cannot reach the server, and its counts are as they were (a new-user try read a
 * stopped device as "28 changes behind" for good).
 */
export const SILENT_AFTER_MS = 3 * 60_000;

/** When a device was quit, by this computer's clock: the time that day, with the date when it was not today. */
function quitWords(lastSeen: string | undefined, now: number | undefined): string {
  const at = lastSeen === undefined ? Number.NaN : Date.parse(lastSeen);
  if (Number.isNaN(at)) return 'stopped (quit)';
  const when = new Date(at);
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(when.getHours())}:${two(when.getMinutes())}`;
  const today = now === undefined || new Date(now).toDateString() === when.toDateString();
  return today ? `stopped (quit at ${time})` : `stopped (quit on ${when.getFullYear()}-${two(when.getMonth() + 1)}-${two(when.getDate())} at ${time})`;
}

/** A folder's error on a device in a few words (the codes of folder-marker.ts, and any other). */
function folderErrorWords(code: string, where: 'here' | 'there'): string {
  switch (code) {
    case 'folder_root_missing':
      return `not syncing: the folder is missing ${where}`;
    case 'folder_marker_missing':
      return `not syncing: the folder lost its .ferry marker ${where}`;
    case 'folder_marker_mismatch':
      return `not syncing: another folder's marker is ${where}`;
    default:
      return `not syncing (${code})`;
  }
}

/**
 * What keeps a device's copy of a folder from being in sync, each in a few words, or "up to date"
 * alone when nothing does. A device that has every change from the others but 8 of its own
 * still to send is not "up to date" (a new user's try read "up to date · 8 not sent yet").
 */
export function deviceStateParts(d: DeviceCounts, count: (n: number) => string = String, now?: number): { parts: string[]; inSync: boolean } {
  const parts: string[] = [];
  // Quit cleanly, its last report said so: that at once, not three minutes of silence first (a
  // new-user try read a quit device "up to date" for three minutes). This device itself runs.
  const quit = !d.self && d.stopped === true;
  if (quit) parts.push(quitWords(d.lastSeen, now));
  // Signed out, it is refused, not silent: that says it. (`now` is this computer's clock; the agent moved `lastSeen` onto it.)
  const silent = !quit && !d.self && !d.signedOut && now !== undefined && d.lastSeen !== undefined && now - Date.parse(d.lastSeen) > SILENT_AFTER_MS;
  if (silent) parts.push('not reporting (stopped, or cannot reach the server)');
  // Signed out, it syncs nothing: whatever it last reported, it is not up to date now.
  if (d.signedOut) parts.push('signed out of the server');
  if (d.folderError !== undefined) parts.push(folderErrorWords(d.folderError, d.self ? 'here' : 'there'));
  // Nothing goes or comes while paused: its counts are as they were (a new-user try read a paused device "up to date").
  if (d.paused) parts.push('paused');
  // What it has not sent or applied waits on that answer, not on the network (a new-user try read it as lag).
  if (d.massDeleteHeld) parts.push(d.self ? 'a bulk delete here waits for your answer' : 'a bulk delete there waits for its user');
  if (d.behind === null) parts.push('has not pulled yet');
  else if (d.behind > 0) parts.push(`${count(d.behind)} ${d.behind === 1 ? 'change' : 'changes'} behind`);
  if (d.pending > 0) parts.push(`${count(d.pending)} ${d.pending === 1 ? 'change' : 'changes'} not sent yet`);
  // A name there that cannot be synced is for its user to rename, not a failure (a new-user try read "1 failing").
  const unsyncable = Math.min(d.unsyncableCount ?? 0, d.failedCount);
  const failing = d.failedCount - unsyncable;
  if (failing > 0) parts.push(`${count(failing)} failing`);
  if (unsyncable > 0) parts.push(`${count(unsyncable)} ${unsyncable === 1 ? 'name' : 'names'} that cannot be synced`);
  if (silent && parts.length === 1) parts.push('up to date when last seen');
  if (quit && parts.length === 1) parts.push('up to date when it quit');
  return parts.length === 0 ? { parts: ['up to date'], inSync: true } : { parts, inSync: false };
}

/**
 * When the server last heard from a device. This device's own line says "reported": it is what
 * the server holds of it, not whether it is running (it is).
 */
export function seenWord(self: boolean): string {
  return self ? 'reported' : 'last seen';
}
