/** The puller: brings other devices' changes to this one (docs/conflict-rules.md). */
import { createPullerImpl, type Puller, type PullerDeps } from './puller';

export function createPuller(deps: PullerDeps): Puller {
  return createPullerImpl(deps);
}

export { DEFAULT_PULLER_OPTIONS } from './puller';
export type { Puller, PullerDeps, PullerOptions } from './puller';
export type { PullSummary, PullerEvents } from './events';
export { onlyWaitedOnThisDevice, WAITS_FOR_RENAME, withLinkReason } from './health';
export type { PullFailure, PullHealthView, PullPathNote } from './health';
export type { PullRemote, ChangesQuery } from './remote-port';
export type { MassDeleteVerdict } from '../folder/mass-delete';
export { conflictName, conflictPath } from '../conflict-name';
export { checkRemotePath } from './safe-path';
