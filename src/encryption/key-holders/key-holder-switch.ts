import { timingSafeEqual } from 'node:crypto';
import { ConflictError, CryptoError } from '../../errors.ts';
import { KeyStore, SYSTEM } from '../../keys/key-store.ts';
import { MASTER_POINTER, parseKeyFile, type MasterPointerFile } from '../master-key/key-files.ts';
import { masterAad, masterWrappings, unwrapMasterWith, writeMasterWith, type KeyHolder } from './key-holder.ts';
import type { KeyManager } from '../master-key/key-manager.ts';

/** `key-holder-switch.json` (system scope): a switch in progress, removed when it is complete. */
export interface SwitchJournal {
  readonly format: 'coffer-key-v1';
  readonly kind: 'key-holder-switch';
  readonly from: string;
  readonly to: string;
  readonly masters: readonly string[];
  readonly started: string;
}

export const SWITCH_JOURNAL = 'key-holder-switch.json';

/** Points where the test hook `COFFER_TEST_CRASH_AT` SIGKILLs the switching process. */
export type CrashPoint = 'after-journal' | 'after-write' | 'after-verify' | 'after-switch' | 'after-cleanup';

function crashPoint(p: CrashPoint): void {
  if (process.env.COFFER_TEST_CRASH_AT === p) process.kill(process.pid, 'SIGKILL');
}

async function readJournal(store: KeyStore): Promise<SwitchJournal | undefined> {
  const buf = await store.tryRead(SYSTEM, SWITCH_JOURNAL);
  return buf ? parseKeyFile<SwitchJournal>(buf, 'key-holder-switch', SWITCH_JOURNAL) : undefined;
}

async function readPointer(store: KeyStore): Promise<MasterPointerFile | undefined> {
  const buf = await store.tryRead(SYSTEM, MASTER_POINTER);
  return buf ? parseKeyFile<MasterPointerFile>(buf, 'master-pointer', MASTER_POINTER) : undefined;
}

/**
 * Finishes or undoes a switch a crash interrupted, deciding by the holder the config names (the
 * commit point): config = journal's `to` → the switch committed: remove the other holders' wrappings;
 * config = `from` → it did not: remove the new holder's wrappings (only when `rollBack`). Call only
 * after `active` has opened the master key.
 * With `rollBack: false` (server start) an uncommitted switch is left alone: a `set` may be running.
 */
export async function resolveInterruptedSwitch(store: KeyStore, active: string, opts: { rollBack: boolean }): Promise<'none' | 'completed' | 'rolled-back' | 'pending'> {
  const j = await readJournal(store);
  if (!j) return 'none';
  if (active === j.to) {
    for (const w of await masterWrappings(store)) if (j.masters.includes(w.masterId) && w.holder !== j.to) await store.delete(SYSTEM, w.name);
    await store.delete(SYSTEM, SWITCH_JOURNAL);
    return 'completed';
  }
  if (active === j.from && opts.rollBack) {
    for (const w of await masterWrappings(store)) if (j.masters.includes(w.masterId) && w.holder === j.to) await store.delete(SYSTEM, w.name);
    await store.delete(SYSTEM, SWITCH_JOURNAL);
    return 'rolled-back';
  }
  return 'pending';
}

export interface SwitchResult {
  readonly from: string;
  readonly to: string;
  readonly masterKeyId: string | null;
  /** What an earlier interrupted switch needed. */
  readonly recovered: 'none' | 'completed' | 'rolled-back' | 'pending';
}

/**
 * Re-wraps the master key under `to` and makes `to` the holder, crash-safely:
 * journal → write the new wrapping → unwrap it with `to` and compare → `commit()` (the config file,
 * written atomically: the single commit point) → remove the old wrapping → remove the journal.
 * A crash before `commit` leaves the old holder working (the new wrapping is rolled back by the next
 * `set`); after it, the new holder works (the old wrapping is removed at the next start or `set`).
 * @throws ConflictError while a master key rotation is unfinished; CryptoError when the new wrapping
 *   does not verify (nothing switched); whatever opening either holder throws (nothing written).
 */
export async function switchKeyHolder(o: { keys: KeyManager; to: KeyHolder; commit: () => Promise<void> }): Promise<SwitchResult> {
  const { keys, to } = o;
  const store = keys.keyStore;
  const from = keys.holder;
  await to.open();
  const recovered = await resolveInterruptedSwitch(store, from.id, { rollBack: true });
  const ptr = await readPointer(store);
  if (!ptr) {
    await to.ensureKey?.();
    await o.commit();
    return { from: from.id, to: to.id, masterKeyId: null, recovered };
  }
  if (ptr.retiring.length > 0) throw new ConflictError('a master key rotation is unfinished: run ./occ encryption:rotate-master-key first; nothing was changed');
  const idHex = ptr.current;
  const mk = (await keys.currentMaster()).key;
  const aad = masterAad(idHex);
  if (to.id === from.id) {
    // Same holder (e.g. another PIN source or module path): it must open the existing wrapping.
    let again: Buffer;
    try { again = await unwrapMasterWith(store, to, idHex, aad); } catch (err) {
      throw new CryptoError('wrong-key', `holder ${to.id} (same id as the current holder) does not open master key ${idHex}: ${(err as Error).message}. To move to another token with the same labels, switch to 'secret' first or use another --key-label; nothing was changed`, { cause: err });
    }
    if (!timingSafeEqual(again, mk)) throw new CryptoError('wrong-key', `holder ${to.id} does not open master key ${idHex}; nothing was changed`);
    await o.commit();
    return { from: from.id, to: to.id, masterKeyId: idHex, recovered };
  }
  await to.ensureKey?.();
  const journal: SwitchJournal = { format: 'coffer-key-v1', kind: 'key-holder-switch', from: from.id, to: to.id, masters: [idHex], started: new Date().toISOString() };
  await store.write(SYSTEM, SWITCH_JOURNAL, JSON.stringify(journal, null, 1));
  crashPoint('after-journal');
  const newName = await writeMasterWith(store, to, idHex, mk, aad);
  crashPoint('after-write');
  let check: Buffer | undefined;
  try { check = await unwrapMasterWith(store, to, idHex, aad); } catch { check = undefined; }
  if (!check || !timingSafeEqual(check, mk)) {
    await store.delete(SYSTEM, newName);
    await store.delete(SYSTEM, SWITCH_JOURNAL);
    throw new CryptoError('wrong-key', `the master key wrapped by ${to.id} did not verify; nothing was switched`);
  }
  crashPoint('after-verify');
  await o.commit();
  crashPoint('after-switch');
  for (const w of await masterWrappings(store, idHex)) if (w.holder !== to.id) await store.delete(SYSTEM, w.name);
  crashPoint('after-cleanup');
  await store.delete(SYSTEM, SWITCH_JOURNAL);
  return { from: from.id, to: to.id, masterKeyId: idHex, recovered };
}

/** What `key-holder:status` shows. */
export async function keyHolderStatus(keys: KeyManager): Promise<Record<string, unknown>> {
  const store = keys.keyStore;
  const ptr = await readPointer(store);
  return {
    holder: keys.holder.describe(),
    masterKeyId: ptr?.current ?? null,
    wrappings: (await masterWrappings(store)).map((w) => ({ masterKeyId: w.masterId, holder: w.holder, file: w.name })),
    interruptedSwitch: (await readJournal(store)) ?? null,
  };
}
