import type { OcsCall } from './ocs-call.ts';
import { OcsError, sendOcsData } from './ocs-response.ts';

/**
 * `POST /ocs/v2.php/apps/encryption/api/v1/recovery` with `enabled=1|0`: the user opts into (or out
 * of) recovery by the instance recovery key. Opting in seals the user's root key(s) to the recovery
 * key: O(1), covers every existing file. Needs the user's key unlocked (403 otherwise, as a locked
 * key) and an enabled recovery key (404).
 */
export async function setRecovery(call: OcsCall): Promise<void> {
  const me = await call.user();
  const p = await call.params();
  const v = p.get('enabled') ?? p.get('userEnableRecovery') ?? '';
  if (v !== '1' && v !== '0') throw new OcsError(400, 'enabled must be 1 or 0');
  const app = call.ctx.app;
  if (!(await app.userKeys.perUserMode())) throw new OcsError(400, 'recovery applies to per-user encryption keys only (this instance uses a master key)');
  const r = await app.userKeys.setRecoveryFor(me.uid, v === '1');
  await app.audit.record(v === '1' ? 'encryption.recovery_opt_in' : 'encryption.recovery_opt_out', { uid: me.uid, ip: call.ctx.ip, rootKeys: r.sealed });
  sendOcsData(call.res, call.target, { enabled: v === '1' });
}

/** `GET …/apps/encryption/api/v1/recovery`: whether the user opted in and a recovery key exists. */
export async function getRecovery(call: OcsCall): Promise<void> {
  const me = await call.user();
  const imp = await call.ctx.app.userKeys.resetImpact(me.uid);
  sendOcsData(call.res, call.target, { enabled: await call.ctx.app.userKeys.isRecoveryEnabledFor(me.uid), recoveryKeyEnabled: imp.recoveryEnabled });
}
