export { createAgent } from './agent';
export type { Agent, AgentOptions } from './agent';
