export { createAgent } from './agent';
export type { Agent, AgentOptions } from './agent';
export type { AgentApi, AgentEvent, AgentHandlers, AgentStatus } from './api';
