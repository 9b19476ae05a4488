import type { LoginFlowStore, PendingFlowRecord } from '../auth/login-flow-service.ts';
import type { RpcClient } from './cluster-rpc.ts';

/** Service name under which the primary serves its MemoryLoginFlowStore. */
export const LOGIN_FLOW_SERVICE = 'loginFlow';

/**
 * A worker's LoginFlowStore: every call goes to the primary's MemoryLoginFlowStore over IPC, so
 * all workers of one `./occ serve --workers N` see the same flows (without Redis). Only token
 * hashes and sealed results cross the channel, as with Redis.
 * Methods reject with RpcError when the primary answered an error.
 */
export class IpcLoginFlowStore implements LoginFlowStore {
  readonly #rpc: RpcClient;
  constructor(rpc: RpcClient) { this.#rpc = rpc; }

  #call<T>(method: keyof LoginFlowStore, ...args: unknown[]): Promise<T> {
    return this.#rpc.call(LOGIN_FLOW_SERVICE, method, args) as Promise<T>;
  }

  pendingFor(address: string, now: number): Promise<{ count: number; oldestExpires: number }> { return this.#call('pendingFor', address, now); }
  putPending(loginHash: string, rec: PendingFlowRecord): Promise<void> { return this.#call('putPending', loginHash, rec); }
  getPending(loginHash: string): Promise<PendingFlowRecord | undefined> { return this.#call('getPending', loginHash); }
  takePending(loginHash: string): Promise<PendingFlowRecord | undefined> { return this.#call('takePending', loginHash); }
  putResult(pollHash: string, sealed: string, expires: number): Promise<void> { return this.#call('putResult', pollHash, sealed, expires); }
  takeResult(pollHash: string): Promise<string | undefined> { return this.#call('takeResult', pollHash); }
}
