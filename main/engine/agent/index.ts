export { createAgent, STATE_DB } from './agent';
export { storedDeviceName } from './identity';
export type { Agent, AgentOptions } from './agent';
export type { AgentApi, AgentEvent, AgentHandlers, AgentStatus } from './api';
