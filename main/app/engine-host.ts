import { methodNames, type AgentEvent, type AgentService, type ContractHandlers, type Settings } from '../../shared/ui-contract';
import type { Logger } from '../logging';
import type { AgentHost, AgentSettingsStore, CreateEngineAgent, EngineAgent } from './agent-host';
import { toAgentService } from '../ui-adapter/agent-service';
import { createFallbackAgent } from './fallback-agent';

/**
 * An AgentHost around the engine. IPC is registered once, at launch, so `service` is a
 * stable facade that forwards to whatever runs behind it: a stand-in until settings exist,
 * the engine once started, or a stand-in stating why the engine could not start.
 */
export interface EngineHostOptions {
  /** null where this build has no engine (the shell then says so). */
  createAgent: CreateEngineAgent | null;
  settings: AgentSettingsStore;
  dataDir: string;
  logFile: string;
  nativeBinding?: string;
  deviceName?: string;
  /** What the device reports in its digest (docs/sync-api.md, "Devices"): `ferry/<version>`. */
  clientVersion?: string;
  log: Logger;
}

export function createEngineHost(options: EngineHostOptions): AgentHost {
  const { settings, logFile, log } = options;
  const listeners = new Set<(event: AgentEvent) => void>();
  const forward = (event: AgentEvent) => {
    for (const listener of listeners) listener(event);
  };

  let current: AgentService = createFallbackAgent({ settings, logFile, reason: null }).service;
  let detach = current.subscribe(forward);
  let engine: EngineAgent | null = null;
  let starting: Promise<void> | null = null;

  const switchTo = (next: AgentService) => {
    detach();
    current = next;
    detach = next.subscribe(forward);
  };

  const fail = async (reason: string) => {
    log.error('the sync engine could not start', { reason });
    switchTo(createFallbackAgent({ settings, logFile, reason }).service);
    forward({ type: 'status', status: await current.handlers.getStatus({}) });
  };

  const launch = async (initial: Settings) => {
    if (!options.createAgent) return fail('this build has no sync engine');
    let agent: EngineAgent;
    try {
      agent = await options.createAgent({
        dataDir: options.dataDir,
        settings: initial,
        saveSettings: (next) => void settings.save(next),
        tokenProtection: settings.tokenProtection(),
        ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
        ...(options.deviceName ? { deviceName: options.deviceName } : {}),
        ...(options.clientVersion ? { clientVersion: options.clientVersion } : {}),
      });
    } catch (error) {
      // The first line says it; stacks (a require stack…) belong in the log only.
      log.error('createAgent failed', { error });
      return fail((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown error');
    }
    engine = agent;
    switchTo(toAgentService(agent));
    try {
      await agent.start();
    } catch (error) {
      log.error('the sync engine stopped at start', { error });
    }
    forward({ type: 'status', status: agent.status() });
  };

  // Every method forwards to what runs now (the lookup happens per call).
  const handlers = Object.fromEntries(
    methodNames.map((name) => [name, (input: unknown) => (current.handlers[name] as (input: unknown) => Promise<unknown>)(input)]),
  ) as ContractHandlers;

  return {
    service: {
      handlers,
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    start(initial) {
      // Once running, later settings are the engine's to apply (updateSettings).
      starting ??= launch(initial);
      return starting;
    },
    async stop() {
      const running = engine;
      engine = null;
      if (running) await running.stop();
    },
    folders: () => (settings.view()?.folders ?? []).map((f) => ({ id: f.remoteId, localPath: f.localPath })),
    logFile,
  };
}
