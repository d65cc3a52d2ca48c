/** The Sync API v1 client (plain Node; never imports electron). */
export { SyncApiClient } from './client';
export type { CallOptions, ChangesPageQuery, PutBlockOptions, SubmitBatchOptions, SubmitBatchReply, SyncApiClientOptions } from './client';
export { httpError, transportError, untrustedCertificateWords, malformedReply, parseRetryAfter } from './errors';
