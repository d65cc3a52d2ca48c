/**
 * Where a held bulk delete came from, in the words every surface uses (the banner, the tray,
 * notifications, `ferry status`): the user decides knowing whose delete it is.
 */
export function deleteOrigin(pending: { side: 'scan' | 'pull'; devices: readonly string[] }): string {
  if (pending.side === 'scan') return 'on this computer';
  if (pending.devices.length === 0) return 'on another device';
  const names = pending.devices.map(deviceLabel);
  return `by ${names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more devices` : names.join(', ')}`;
}

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

/** The sample's paths as one line, with how many more there are: "a.txt, b.txt and 45 more". */
export function samplePathsLine(pending: { count: number; sample: readonly string[] }): string {
  if (pending.sample.length === 0) return '';
  const more = pending.count - pending.sample.length;
  return more > 0 ? `${pending.sample.join(', ')} and ${more} more` : pending.sample.join(', ');
}

/** Where a confirmed mass delete the Undo offer names happened, as the banner and `ferry status` say it. */
export function undoOrigin(side: 'scan' | 'pull'): string {
  return side === 'scan' ? 'deleted on this computer' : 'deleted here by another device';
}

/** The files an Undo would bring back: the batch's, less those here again. */
export function filesToUndo(offer: { count: number; back: number }): number {
  return Math.max(0, offer.count - offer.back);
}
