import { registerCommands, type Command } from '../cli';

// The command table. Each entry loads its module only when that command runs.
const clientCommand = (name: string) => async (): Promise<Command> => {
  const { clientCommands } = await import('./index');
  return clientCommands[name]!;
};

registerCommands({
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
});
