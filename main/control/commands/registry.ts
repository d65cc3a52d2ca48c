import { registerCommands, type Command } from '../cli';
import { COMMAND_SUMMARIES } from './summaries';

// The command table. Each entry loads its module only when that command runs; `ferry --help`
// reads the summaries alone.
const clientCommand = (name: string) => async (): Promise<Command> => {
  const { clientCommands } = await import('./index');
  return clientCommands[name]!;
};

const command = (load: () => Promise<{ run(argv: string[]): Promise<number> }>) => async (): Promise<Command> => {
  const mod = await load();
  return { run: (argv) => mod.run(argv) };
};

registerCommands({
  agent: { summary: COMMAND_SUMMARIES.agent, load: command(() => import('./run-agent')) },
  start: { summary: COMMAND_SUMMARIES.start, load: command(() => import('./start')) },
  server: {
    summary: COMMAND_SUMMARIES.server,
    load: async () => ({
      run: async (argv) => {
        const { runServerCommand } = await import('./server');
        return runServerCommand(argv);
      },
    }),
  },
  status: { summary: COMMAND_SUMMARIES.status, load: clientCommand('status') },
  queue: { summary: COMMAND_SUMMARIES.queue, load: clientCommand('queue') },
  'sync-now': { summary: COMMAND_SUMMARIES.syncNow, load: clientCommand('sync-now') },
  pause: { summary: COMMAND_SUMMARIES.pause, load: clientCommand('pause') },
  resume: { summary: COMMAND_SUMMARIES.resume, load: clientCommand('resume') },
  retry: { summary: COMMAND_SUMMARIES.retry, load: clientCommand('retry') },
  'mass-delete': { summary: COMMAND_SUMMARIES.massDelete, load: clientCommand('mass-delete') },
  devices: { summary: COMMAND_SUMMARIES.devices, load: clientCommand('devices') },
  why: { summary: COMMAND_SUMMARIES.why, load: clientCommand('why') },
  conflicts: { summary: COMMAND_SUMMARIES.conflicts, load: clientCommand('conflicts') },
  history: { summary: COMMAND_SUMMARIES.history, load: clientCommand('history') },
  restore: { summary: COMMAND_SUMMARIES.restore, load: clientCommand('restore') },
  ui: { summary: COMMAND_SUMMARIES.ui, load: clientCommand('ui') },
});
