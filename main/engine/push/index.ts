export { createPusher, CurrentPusher, DEFAULT_PUSHER_OPTIONS, type PushDeps } from './pusher';
export type { PusherOptions } from './pusher';
export type { ConflictHandoff, Pusher, PusherDeps, PusherStatus, PushFolder, PushStore } from './api';
export type { ConflictEvent, ItemEvent, ItemProgressEvent, PushItemState, PusherEvents, RunProgressEvent } from './pusher';
export type { PushCallOptions, PushRemote, SubmitOptions, SubmitReply } from './remote-port';
export type { Timers } from './timers';
export { systemTimers } from './timers';
export { FOLDER_NOT_MADE } from './retry-policy';
