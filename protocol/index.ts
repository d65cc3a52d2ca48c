/** Sync API v1: the one declaration of the wire contract, imported by server/ and main/remote. */
export * from './constants';
export * from './errors';
export * from './hashes';
export * from './paths';
export * from './common';
export * from './blocks';
export * from './folders';
export * from './batches';
export * from './tasks';
export * from './changes';
export * from './routes';
export * from './devices';
