// s3rver ships no types; the tests use this much of it (test/helpers/backends-setup.ts).
declare module 's3rver' {
  export default class S3rver {
    constructor(options: { port?: number; address?: string; silent?: boolean; directory: string; resetOnClose?: boolean });
    run(): Promise<{ port: number; address: string }>;
    close(): Promise<void>;
  }
}
