import { registerCommands, type Command } from '../cli';

// The command table. Each entry loads its module only when that command runs.
const clientCommand = (name: string) => async (): Promise<Command> => {
  const { clientCommands } = await import('./index');
  return clientCommands[name]!;
};

const command = (load: () => Promise<{ definition: { summary: string }; run(argv: string[]): Promise<number> }>) => async (): Promise<Command> => {
  const mod = await load();
  return { summary: mod.definition.summary, run: (argv) => mod.run(argv) };
};

registerCommands({
  agent: command(() => import('./run-agent')),
  start: command(() => import('./start')),
  server: async () => ({
    summary: 'Run the reference Sync API server',
    run: async (argv) => {
      const { runServerCommand } = await import('./server');
      await runServerCommand(argv);
      return 0;
    },
  }),
  status: clientCommand('status'),
  queue: clientCommand('queue'),
  'sync-now': clientCommand('sync-now'),
  pause: clientCommand('pause'),
  resume: clientCommand('resume'),
  retry: clientCommand('retry'),
  'mass-delete': clientCommand('mass-delete'),
  ui: clientCommand('ui'),
});
