import { createLogger } from '../../logging';
import type { Pusher, PusherDeps } from './api';
import { createPushScheduler } from './scheduler';

export type PushDeps = Omit<PusherDeps, 'log'> & { log?: PusherDeps['log'] };

/** The pusher: turns the durable queue into changes on the server. Call start() to begin. */
export function createPusher(deps: PushDeps): Pusher {
  return createPushScheduler({ ...deps, log: deps.log ?? createLogger('engine:push') });
}

export { DEFAULT_PUSHER_OPTIONS } from './options';
export type { PusherOptions } from './options';
export type { ConflictHandoff, Pusher, PusherDeps, PusherStatus, PushFolder, PushStore } from './api';
export type { ConflictEvent, ItemEvent, ItemProgressEvent, PushItemState, PusherEvents, RunProgressEvent } from './events';
export type { PushCallOptions, PushRemote, SubmitOptions, SubmitReply } from './remote-port';
export type { Timers } from './timers';
export { systemTimers } from './timers';
