import path from 'node:path';
import { deleteOrigin, heldCount } from '../../shared/pending-delete';
import type { AgentState, Status } from '../../shared/ui-contract';
import { REVOKED_REASON } from '../engine/agent/connection';

/**
 * What the tray shows, as plain data: icon file, tooltip and menu for a status. Pure, so
 * every state is tested without Electron; tray.ts only applies it.
 */

export type TrayAction =
  | { type: 'syncNow' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'showQueue' }
  | { type: 'showSettings' }
  | { type: 'openFolder'; folderId: string }
  | { type: 'openLogs' }
  | { type: 'toggleStartAtLogin' }
  | { type: 'quit' };

export type MenuItemModel =
  | { kind: 'label'; label: string }
  | { kind: 'separator' }
  | { kind: 'action'; label: string; enabled: boolean; action: TrayAction }
  | { kind: 'checkbox'; label: string; checked: boolean; action: TrayAction }
  | { kind: 'submenu'; label: string; enabled: boolean; items: MenuItemModel[] };

export interface TrayInput {
  /** null until the agent answered its first status. */
  status: Status | null;
  platform: string;
  /** nativeTheme.shouldUseDarkColors */
  dark: boolean;
  startAtLogin: boolean;
  folders: ReadonlyArray<{ id: string; localPath: string }>;
}

export interface TrayModel {
  /** A file name under assets/tray. */
  iconName: string;
  tooltip: string;
  menu: MenuItemModel[];
}

export const TRAY_STATES: readonly AgentState[] = ['idle', 'syncing', 'paused', 'offline', 'error'];

/**
 * macOS gets template images (black + alpha; the menu bar tints them). Elsewhere the glyph
 * must contrast with the taskbar: `-dark` icons are light glyphs for dark themes. Electron
 * picks the `@2x` sibling on its own.
 */
export function trayIconName(state: AgentState, platform: string, dark: boolean): string {
  // A refused token needs the user like an error does: the same icon, its own tooltip. A held
  // bulk delete is a folder paused for the user's answer: the paused icon, its own tooltip.
  const icon = state === 'auth_failed' ? 'error' : state === 'waiting' ? 'paused' : state;
  if (platform === 'darwin') return `${icon}Template.png`;
  return `${icon}-${dark ? 'dark' : 'light'}.png`;
}

/** Decimal units, like file managers show transfer rates. */
export function formatRate(bytesPerSec: number): string {
  const units = ['B/s', 'KB/s', 'MB/s', 'GB/s'];
  let value = bytesPerSec;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Windows cuts tray tooltips at 127 characters; keep each line well inside. */
const MAX_LINE = 100;
const clip = (text: string) => (text.length > MAX_LINE ? `${text.slice(0, MAX_LINE - 1)}…` : text);

function syncingLine(status: Status): string {
  const counts = status.counts;
  const left = status.run?.itemsLeft ?? (counts.pending ?? 0) + (counts.in_flight ?? 0) + (counts.retry_wait ?? 0);
  const rate = status.rates.uploadBytesPerSec + status.rates.downloadBytesPerSec;
  const files = left > 0 ? `Syncing ${plural(left, 'file', 'files')}` : 'Syncing';
  return rate > 0 ? `${files}, ${formatRate(rate)}` : files;
}

/** The tooltip: what is happening, then what needs the user. One line each. */
export function trayTooltip(status: Status | null): string {
  if (!status) return 'Ferry is starting…';
  const lines: string[] = [];
  switch (status.state) {
    case 'syncing':
      lines.push(syncingLine(status));
      break;
    case 'paused':
      lines.push('Paused');
      break;
    case 'offline':
      lines.push('Offline, waiting for the server');
      break;
    case 'auth_failed':
      // A revoked device is told so: a new token would not help, pairing again does.
      lines.push(status.reason === REVOKED_REASON ? 'This device was signed out; pair it again in Settings' : 'The server refused the token: check it in Settings');
      break;
    case 'waiting':
      // The held folders' own lines follow; a folder not made yet has none, so its reason is said.
      if (!status.folders.some((f) => f.pendingDelete) && status.reason) lines.push(clip(status.reason));
      break;
    case 'error': {
      const broken = status.folders.find((f) => f.state === 'error' || f.state === 'disk_full');
      lines.push(broken?.error ? `Error: ${clip(broken.error.split('\n')[0] ?? '')}` : 'Error');
      break;
    }
    case 'idle':
      break;
  }
  for (const folder of status.folders) {
    if (folder.pendingDelete) {
      const name = path.basename(folder.localPath) || folder.localPath;
      // Those that reached the server before the hold wait for nothing (docs/conflict-rules.md, local deletes).
      lines.push(`${name}: ${plural(heldCount(folder.pendingDelete), 'file', 'files')} deleted ${deleteOrigin(folder.pendingDelete)} waiting for you`);
    }
  }
  const failed = status.counts.failed ?? 0;
  if (failed > 0) lines.push(`${failed} failed`);
  if (lines.length === 0) lines.push(status.folders.length === 0 ? 'No folders yet' : 'Up to date');
  return lines.join('\n');
}

/** Folder menu labels: the folder's name, with its path where two share a name. */
function folderItems(folders: TrayInput['folders']): MenuItemModel[] {
  const names = folders.map((f) => path.basename(f.localPath) || f.localPath);
  return folders.map((folder, i) => {
    const name = names[i] ?? folder.localPath;
    const ambiguous = names.filter((n) => n === name).length > 1;
    return { kind: 'action', label: ambiguous ? folder.localPath : name, enabled: true, action: { type: 'openFolder', folderId: folder.id } };
  });
}

export function trayModel(input: TrayInput): TrayModel {
  const { status } = input;
  const state: AgentState = status?.state ?? 'idle';
  const tooltip = trayTooltip(status);
  const paused = state === 'paused';
  const menu: MenuItemModel[] = [
    { kind: 'label', label: tooltip.split('\n')[0] ?? tooltip },
    { kind: 'separator' },
    { kind: 'action', label: 'Sync now', enabled: status !== null && !paused, action: { type: 'syncNow' } },
    paused
      ? { kind: 'action', label: 'Resume', enabled: true, action: { type: 'resume' } }
      : { kind: 'action', label: 'Pause', enabled: status !== null, action: { type: 'pause' } },
    { kind: 'separator' },
    { kind: 'action', label: 'Show queue', enabled: true, action: { type: 'showQueue' } },
    { kind: 'action', label: 'Settings…', enabled: true, action: { type: 'showSettings' } },
    { kind: 'submenu', label: 'Open folder', enabled: input.folders.length > 0, items: folderItems(input.folders) },
    { kind: 'action', label: 'Open logs', enabled: true, action: { type: 'openLogs' } },
    { kind: 'separator' },
    { kind: 'checkbox', label: 'Start at login', checked: input.startAtLogin, action: { type: 'toggleStartAtLogin' } },
    { kind: 'separator' },
    { kind: 'action', label: 'Quit Ferry', enabled: true, action: { type: 'quit' } },
  ];
  return { iconName: trayIconName(state, input.platform, input.dark), tooltip, menu };
}
