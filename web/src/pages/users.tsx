import { useEffect, useState } from 'preact/hooks';
import { api, formatDate, formatSize, type SessionUser } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { errorToast, toast } from '../components/toast.tsx';

interface UserRow { uid: string; displayName: string; email: string | null; quota: number | null; enabled: boolean; isAdmin: boolean; lastLogin: number | null; used?: number }

const GB = 1024 ** 3;
const QUOTAS: [string, number | null][] = [['Unlimited', null], ['1 GB', GB], ['5 GB', 5 * GB], ['10 GB', 10 * GB], ['50 GB', 50 * GB], ['100 GB', 100 * GB]];

function quotaOptions(current: number | null) {
  const known = QUOTAS.some(([, v]) => v === current);
  return <>
    {QUOTAS.map(([l, v]) => <option key={l} value={v === null ? 'none' : String(v)}>{l}</option>)}
    {!known && current !== null && <option value={String(current)}>{formatSize(current)}</option>}
  </>;
}

interface ResetImpact { hasKeys: boolean; optedIn: boolean; recoveryEnabled: boolean }

/**
 * Reset a user's password. With per-user keys the dialog says what the reset costs: with the
 * recovery key (user opted in) the files stay readable; otherwise the admin must confirm their loss.
 */
function ResetPassword({ user, onClose }: { user: UserRow; onClose: () => void }) {
  const [pw, setPw] = useState('');
  const [recoveryPw, setRecoveryPw] = useState('');
  const [confirmLoss, setConfirmLoss] = useState(false);
  const [impact, setImpact] = useState<ResetImpact | null>(null);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<ResetImpact>(`users/${encodeURIComponent(user.uid)}/reset-impact`).then(setImpact).catch((e) => setErr((e as Error).message));
  }, []);
  const canRecover = !!impact?.hasKeys && impact.optedIn && impact.recoveryEnabled;
  const losesFiles = !!impact?.hasKeys && !(canRecover && recoveryPw);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!pw) { setErr('Enter a new password.'); return; }
    if (losesFiles && !confirmLoss) { setErr(canRecover ? 'Enter the recovery key password, or confirm that the files will be lost.' : 'Confirm that the files will be lost.'); return; }
    setBusy(true);
    try {
      await api(`users/${encodeURIComponent(user.uid)}/password`, {
        method: 'POST',
        body: { password: pw, recoveryPassword: canRecover && recoveryPw ? recoveryPw : undefined, confirmKeyReset: losesFiles && confirmLoss },
      });
      toast(`Password of ${user.uid} reset`);
      onClose();
    } catch (e2) { setErr((e2 as Error).message); setBusy(false); }
  };
  const val = (e: Event) => (e.target as HTMLInputElement).value;
  return (
    <Dialog title={`Reset password of ${user.displayName}`} onClose={onClose}>
      <form onSubmit={submit}>
        {!impact ? <p class="muted">Checking the user's encryption keys…</p>
          : !impact.hasKeys
            ? <p class="muted">The user's files stay readable (encryption, if enabled, uses the server's master key). Their browser sessions are ended.</p>
            : canRecover
              ? <p class="warning">Server-side encryption uses per-user keys. {user.uid} opted into password recovery: enter the <strong>recovery key password</strong> to keep their files readable. Without it, resetting the password makes their encrypted files unreadable.</p>
              : <p class="warning">Server-side encryption uses per-user keys and {user.uid} {impact.optedIn ? 'opted into recovery, but no recovery key is set up' : 'has not opted into password recovery'}: <strong>resetting the password makes all of their encrypted files permanently unreadable.</strong></p>}
        <label for="reset-pw">New password</label>
        <input id="reset-pw" type="password" autocomplete="new-password" value={pw} onInput={(e) => setPw(val(e))} />
        {canRecover && <>
          <label for="reset-recovery-pw">Recovery key password</label>
          <input id="reset-recovery-pw" type="password" autocomplete="off" value={recoveryPw} onInput={(e) => setRecoveryPw(val(e))} />
        </>}
        {losesFiles && (
          <div class="check-row confirm-loss">
            <input id="reset-confirm-loss" type="checkbox" checked={confirmLoss} onChange={(e) => setConfirmLoss((e.target as HTMLInputElement).checked)} />
            <label for="reset-confirm-loss">I understand that {user.uid}'s encrypted files will be lost</label>
          </div>
        )}
        {err && <p class="form-error" role="alert">{err}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class={losesFiles ? 'danger-button' : 'primary'} disabled={busy || !impact || (losesFiles && !confirmLoss)}>Reset password</button>
        </div>
      </form>
    </Dialog>
  );
}

/** `/settings/users`: add, delete, quota, reset password. */
export function UsersPage({ me }: { me: SessionUser }) {
  const [users, setUsers] = useState<UserRow[] | null>(null);
  const [form, setForm] = useState({ uid: '', displayName: '', password: '', quota: 'none' });
  const [err, setErr] = useState('');
  const [reset, setReset] = useState<UserRow | null>(null);
  const [del, setDel] = useState<UserRow | null>(null);
  const load = () => api<{ users: UserRow[] }>('users').then((r) => setUsers(r.users)).catch(errorToast);
  useEffect(() => { void load(); }, []);
  const add = async (e: Event) => {
    e.preventDefault();
    setErr('');
    try {
      await api('users', { method: 'POST', body: { ...form, quota: form.quota === 'none' ? null : Number(form.quota) } });
      toast(`User ${form.uid} created`);
      setForm({ uid: '', displayName: '', password: '', quota: 'none' });
      await load();
    } catch (e2) { setErr((e2 as Error).message); }
  };
  const setQuota = async (u: UserRow, v: string) => {
    try { await api(`users/${encodeURIComponent(u.uid)}/quota`, { method: 'POST', body: { quota: v === 'none' ? null : Number(v) } }); toast(`Quota of ${u.uid} changed`); await load(); } catch (e) { errorToast(e); }
  };
  const remove = async (u: UserRow) => {
    try { await api(`users/${encodeURIComponent(u.uid)}`, { method: 'DELETE' }); toast(`User ${u.uid} deleted`); setDel(null); await load(); } catch (e) { errorToast(e); }
  };
  const field = (k: keyof typeof form) => ({ value: form[k], onInput: (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value }) });
  return (
    <section class="page settings-page">
      <h1>Users</h1>
      <form class="settings-section new-user" onSubmit={add} aria-labelledby="new-user-title">
        <h2 id="new-user-title">New user</h2>
        <div class="form-grid">
          <div><label for="nu-uid">Username</label><input id="nu-uid" type="text" autocomplete="off" autocapitalize="none" required {...field('uid')} /></div>
          <div><label for="nu-name">Display name</label><input id="nu-name" type="text" autocomplete="off" {...field('displayName')} /></div>
          <div><label for="nu-pw">Password</label><input id="nu-pw" type="password" autocomplete="new-password" required {...field('password')} /></div>
          <div><label for="nu-quota">Quota</label><select id="nu-quota" value={form.quota} onChange={(e) => setForm({ ...form, quota: (e.target as HTMLSelectElement).value })}>{quotaOptions(null)}</select></div>
        </div>
        {err && <p class="form-error" role="alert">{err}</p>}
        <button type="submit" class="primary">Add user</button>
      </form>
      {users && (
        <div class="table-wrap">
          <table class="data-table users-table">
            <caption class="visually-hidden">Users</caption>
            <thead><tr><th scope="col">User</th><th scope="col">Quota</th><th scope="col">Used</th><th scope="col">Last login</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.uid}>
                  <th scope="row"><div class="user-head"><span class="avatar small" aria-hidden="true">{(u.displayName || u.uid).slice(0, 1).toUpperCase()}</span>
                    <span class="user-cell"><span>{u.displayName}</span><span class="muted small">{u.displayName !== u.uid ? u.uid : ''}{u.isAdmin ? `${u.displayName !== u.uid ? ' · ' : ''}Administrator` : ''}{u.enabled ? '' : ' · disabled'}</span></span></div></th>
                  <td><select aria-label={`Quota for ${u.uid}`} value={u.quota === null ? 'none' : String(u.quota)} onChange={(e) => setQuota(u, (e.target as HTMLSelectElement).value)}>{quotaOptions(u.quota)}</select></td>
                  <td>{formatSize(u.used ?? 0)}</td>
                  <td>{formatDate(u.lastLogin)}</td>
                  <td class="actions">
                    <button type="button" onClick={() => setReset(u)} aria-label={`Reset password of ${u.uid}`}>Reset password</button>
                    {u.uid !== me.uid && <button type="button" class="danger-button" onClick={() => setDel(u)} aria-label={`Delete ${u.uid}`}>Delete</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {reset && <ResetPassword user={reset} onClose={() => setReset(null)} />}
      {del && (
        <Dialog title={`Delete ${del.uid}?`} onClose={() => setDel(null)} alert>
          <p>The account <strong>{del.uid}</strong>, all of its files and its shares will be deleted. This cannot be undone.</p>
          <div class="dialog-actions"><button type="button" onClick={() => setDel(null)}>Cancel</button><button type="button" class="danger-button" onClick={() => remove(del)}>Delete user</button></div>
        </Dialog>
      )}
    </section>
  );
}
