import type { App } from '../app.ts';

/**
 * The seam to the locks engineer's modules (lock-guard, lock-handler, lock-props, uploads-handler):
 * the method handlers import them from here only.
 */
export { assertWritable, evaluateIf } from './lock-guard.ts';
export { uploadsHandler } from './uploads-handler.ts';
export { handleLock, handleUnlock } from './lock-handler.ts';
export { lockDiscoveryXml, supportedLockXml } from './lock-props.ts';

/** A path a request is about to change, and how deep (lock-guard's target shape). */
export interface WriteTarget { path: string; depth: 0 | 'infinity' }

/** Drops the locks at and below a path (after DELETE/MOVE). */
export async function removeLocksUnder(app: App, uid: string, path: string): Promise<void> {
  await app.locks.removeUnder(uid, path);
}
