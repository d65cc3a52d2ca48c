// One line per command: `ferry --help` lists these without loading any command's module
// (loading them all pulls in the engine, the server and SQLite), and each command's own help
// shows its line.
export const COMMAND_SUMMARIES = {
  agent: 'Run the sync engine headless, with its control API and web UI on 127.0.0.1.',
  start: 'Run Ferry out of the box: an embedded reference server and the agent syncing ~/Ferry, with the web UI.',
  server: 'Run the reference Sync API server, or manage its users, devices and folders (user add|list|remove, pair, devices, revoke, share, unshare, folders, folder remove, lost-blocks)',
  status: "Show the running agent's state, queue counts, folders, rates and last sync.",
  queue: "List the items in the running agent's sync queue, a page at a time.",
  syncNow: 'Ask the running agent to scan and sync now instead of waiting for the next change.',
  pause: 'Pause syncing: changes are still recorded in the queue but nothing is sent or fetched until resume.',
  resume: 'Resume syncing after a pause.',
  retry: 'Retry failed queue items: one by its ID (from ferry queue), or all of them with --all.',
  massDelete: 'Answer a mass delete the agent is holding (confirm it, or cancel it and keep the files), or undo the last confirmed one (or stop offering that).',
  devices: 'Show every device syncing your folders: up to date, or how many changes behind and not sent yet, what fails there, and when it was last seen.',
  why: 'Explain why a path is not in sync (ignored, pending, failing, held, in conflict…) or confirm that it is.',
  conflicts: 'List the conflict copies still on disk: where the other version of each file is, and which device it is from.',
  history: 'List the versions of a file the server keeps, newest first.',
  restore: 'Bring back deleted files or earlier versions from the server (no upload): paths, a moment, or every deleted file.',
  ui: "Print a fresh sign-in link to the running agent's web UI (each link works once, for 10 minutes).",
} as const;
