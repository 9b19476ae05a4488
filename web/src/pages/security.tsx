import { useEffect, useState } from 'preact/hooks';
import { api, apiBlob, formatDate, saveBlob } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { LockIcon } from '../components/icons.tsx';
import { errorToast, toast } from '../components/toast.tsx';
import { linkClick } from '../router.ts';

interface EncState {
  enabled: boolean; appEnabled: boolean; masterKeyPresent: boolean; mode: 'master-key' | 'per-user';
  recoveryKeyEnabled: boolean; keysBackedUpAt: number | null; encryptedFiles: number;
}

function ConfirmEnable({ onConfirm, onClose }: { onConfirm: () => Promise<void>; onClose: () => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <Dialog title="Enable server-side encryption?" onClose={onClose} alert wide>
      <p>Please read this before you continue:</p>
      <ul class="points">
        <li><strong>Only new files are encrypted.</strong> Files uploaded from now on are encrypted at rest; files already on the server stay as they are.</li>
        <li>To encrypt the existing files, run <code>./occ encryption:encrypt-all</code> on the server.</li>
        <li><strong>Back up the encryption keys</strong> (“Download key backup” on this page, or <code>./occ encryption:backup-keys</code>). If the keys are lost, the files cannot be recovered by anyone.</li>
        <li>Encrypted files take slightly more space, and encryption costs some performance.</li>
        <li>Once enabled, server-side encryption <strong>cannot be turned off here</strong>; only an administrator on the command line can (<code>./occ encryption:decrypt-all</code>, then <code>./occ encryption:disable</code>).</li>
      </ul>
      <div class="dialog-actions">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="button" class="primary" disabled={busy} onClick={async () => { setBusy(true); await onConfirm(); onClose(); }}>Enable encryption</button>
      </div>
    </Dialog>
  );
}

function BackupDialog({ onDone, onClose }: { onDone: () => void; onClose: () => void }) {
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (pw.length < 10) { setErr('Use at least 10 characters.'); return; }
    if (pw !== pw2) { setErr('The passwords do not match.'); return; }
    setBusy(true);
    try {
      const { blob, filename } = await apiBlob('encryption/backup', { password: pw });
      saveBlob(blob, filename);
      toast('Key backup downloaded. Keep it and its password in a safe place, apart from the server.');
      onDone();
      onClose();
    } catch (e2) { setErr((e2 as Error).message); setBusy(false); }
  };
  return (
    <Dialog title="Download key backup" onClose={onClose}>
      <form onSubmit={submit}>
        <p class="muted">The archive holds every encryption key, protected by this password. Without the password the backup is useless — store it separately.</p>
        <label for="backup-pw">Backup password</label>
        <input id="backup-pw" type="password" autocomplete="new-password" value={pw} onInput={(e) => setPw((e.target as HTMLInputElement).value)} />
        <label for="backup-pw2">Repeat backup password</label>
        <input id="backup-pw2" type="password" autocomplete="new-password" value={pw2} onInput={(e) => setPw2((e.target as HTMLInputElement).value)} />
        {err && <p class="form-error" role="alert">{err}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>{busy ? 'Preparing…' : 'Download'}</button>
        </div>
      </form>
    </Dialog>
  );
}

const val = (e: Event) => (e.target as HTMLInputElement).value;

/** The recovery key: enable it with a password (typed twice), or change its password. */
function RecoveryKeySection({ st, onState }: { st: EncState; onState: (s: EncState) => void }) {
  const [old, setOld] = useState('');
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const enabled = st.recoveryKeyEnabled;
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!pw) { setMsg({ ok: false, text: 'Enter a recovery key password.' }); return; }
    if (pw !== pw2) { setMsg({ ok: false, text: 'The passwords do not match.' }); return; }
    setBusy(true);
    try {
      const r = enabled
        ? await api<EncState>('encryption/recovery-key/password', { method: 'POST', body: { old, password: pw } })
        : await api<EncState>('encryption/recovery-key', { method: 'POST', body: { password: pw } });
      setOld(''); setPw(''); setPw2('');
      setMsg({ ok: true, text: enabled ? 'Recovery key password changed.' : 'Recovery key enabled. Users can now opt into password recovery in their personal settings.' });
      onState(r);
    } catch (e2) { setMsg({ ok: false, text: (e2 as Error).message }); }
    setBusy(false);
  };
  return (
    <form onSubmit={submit} aria-labelledby="rk-title">
      <h3 id="rk-title">Recovery key</h3>
      <p class="muted">
        {st.mode === 'master-key'
          ? 'In master-key mode a recovery key is not needed: files do not depend on user passwords, so an administrator can reset a password without data loss. Protect the master key with regular key backups instead.'
          : 'With per-user keys, a user\'s files are locked by their password. A recovery key lets an administrator reset the password of users who opted in (in their personal settings) without losing their files. Keep its password safe: it is never stored.'}
      </p>
      <p class="status-line"><strong>Status:</strong> {enabled ? 'The recovery key is enabled.' : 'No recovery key is set.'}</p>
      {st.mode === 'per-user' && <>
        <div class="form-grid narrow">
          {enabled && <div><label for="rk-old">Current recovery key password</label><input id="rk-old" type="password" autocomplete="current-password" required value={old} onInput={(e) => setOld(val(e))} /></div>}
          <div><label for="rk-pw">{enabled ? 'New recovery key password' : 'Recovery key password'}</label><input id="rk-pw" type="password" autocomplete="new-password" required value={pw} onInput={(e) => setPw(val(e))} /></div>
          <div><label for="rk-pw2">{enabled ? 'Confirm new recovery key password' : 'Confirm recovery key password'}</label><input id="rk-pw2" type="password" autocomplete="new-password" required value={pw2} onInput={(e) => setPw2(val(e))} /></div>
        </div>
        {msg && <p class={msg.ok ? 'form-ok' : 'form-error'} role={msg.ok ? 'status' : 'alert'}>{msg.text}</p>}
        <button type="submit" class={enabled ? '' : 'primary'} disabled={busy}>{enabled ? 'Change recovery key password' : 'Enable recovery key'}</button>
      </>}
    </form>
  );
}

/** `/settings/admin/security`: server-side encryption. */
export function SecurityPage() {
  const [st, setSt] = useState<EncState | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [backup, setBackup] = useState(false);
  const load = () => api<EncState>('encryption').then(setSt).catch(errorToast);
  useEffect(() => { void load(); }, []);
  const enable = async () => {
    try { setSt(await api<EncState>('encryption/enable', { method: 'POST' })); toast('Server-side encryption enabled'); } catch (e) { errorToast(e); }
  };
  return (
    <section class="page settings-page">
      <h1>Security</h1>
      <div class="settings-section">
        <h2><LockIcon /> Server-side encryption</h2>
        <p class="lead">Server-side encryption encrypts files as they are stored, so that the disks (or the storage provider) only ever hold ciphertext. The keys stay on this server.</p>
        {st && <>
          <div class="check-row big">
            <input id="enable-sse" type="checkbox" checked={st.enabled} disabled={st.enabled || !st.appEnabled}
              aria-describedby="enable-sse-hint"
              onClick={(e) => { e.preventDefault(); if (!st.enabled && st.appEnabled) setConfirm(true); }} />
            <label for="enable-sse">Enable server-side encryption</label>
          </div>
          <p id="enable-sse-hint" class="hint">
            {st.enabled ? 'Server-side encryption is enabled. It cannot be turned off here.'
              : st.appEnabled ? 'New files will be encrypted once you enable it.'
              : <>Enable the “Default encryption module” under <a href="/settings/apps" onClick={(e) => linkClick(e, '/settings/apps')}>Apps</a> first.</>}
          </p>
          {st.enabled && <>
            <dl class="facts">
              <div><dt>Encryption module</dt><dd>Default encryption module</dd></div>
              <div><dt>Key mode</dt><dd>{st.mode === 'master-key' ? 'Master key — one server key protects every file (users can reset passwords without losing files)' : 'Per-user keys — each user\'s files are locked by their own password (a password reset loses files unless the user opted into the recovery key)'}</dd></div>
              <div><dt>Encrypted files</dt><dd>{st.encryptedFiles}</dd></div>
              <div><dt>Last key backup</dt><dd>{st.keysBackedUpAt ? formatDate(st.keysBackedUpAt) : 'never'}</dd></div>
            </dl>
            {!st.keysBackedUpAt && (
              <div class="warning" role="alert">
                <strong>The encryption keys have not been backed up.</strong> If the server's key files are lost, nobody can decrypt the files — not even you. Download a key backup now and keep it somewhere safe.
              </div>
            )}
            <div class="button-row">
              <button type="button" class={st.keysBackedUpAt ? '' : 'primary'} onClick={() => setBackup(true)}>Download key backup</button>
            </div>
            <RecoveryKeySection st={st} onState={setSt} />
            <p class="muted">To encrypt the files that were stored before encryption was enabled, run <code>./occ encryption:encrypt-all</code>.</p>
          </>}
        </>}
      </div>
      {confirm && <ConfirmEnable onConfirm={enable} onClose={() => setConfirm(false)} />}
      {backup && <BackupDialog onDone={load} onClose={() => setBackup(false)} />}
    </section>
  );
}
