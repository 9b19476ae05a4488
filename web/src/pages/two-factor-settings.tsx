import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { errorToast, toast } from '../components/toast.tsx';

interface TwoFactorState { totp: boolean; totpPending: boolean; backupCodes: { total: number; remaining: number }; enforced: boolean }
interface Enrolment { secret: string; uri: string; qr: string }

/**
 * Personal settings → Two-factor authentication (Nextcloud's TOTP app): enable with a QR code
 * (and the secret as text), verify a first code before it counts; backup codes shown once;
 * turning it off asks for the password.
 */
export function TwoFactorSection() {
  const [st, setSt] = useState<TwoFactorState | null>(null);
  const [enrol, setEnrol] = useState<Enrolment | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [pw, setPw] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const load = () => api<TwoFactorState>('me/two-factor').then(setSt).catch(errorToast);
  useEffect(() => { void load(); }, []);

  const start = async () => {
    setMsg(null);
    try { setEnrol(await api<Enrolment>('me/two-factor/totp', { method: 'POST' })); } catch (e) { errorToast(e); }
  };
  const verify = async (e: Event) => {
    e.preventDefault();
    try {
      await api('me/two-factor/totp/verify', { method: 'POST', body: { code } });
      setEnrol(null); setCode('');
      setMsg({ ok: true, text: 'Two-factor authentication is enabled. Generate backup codes now, in case you lose your phone.' });
      await load();
    } catch (e2) { setMsg({ ok: false, text: (e2 as Error).message }); }
  };
  const generate = async () => {
    try { setCodes((await api<{ codes: string[] }>('me/two-factor/backup-codes', { method: 'POST' })).codes); await load(); } catch (e) { errorToast(e); }
  };
  const disable = async (e: Event) => {
    e.preventDefault();
    try {
      await api('me/two-factor/disable', { method: 'POST', body: { password: pw } });
      setPw(''); setCodes(null);
      toast('Two-factor authentication disabled');
      setMsg(null);
      await load();
    } catch (e2) { setMsg({ ok: false, text: (e2 as Error).message }); }
  };

  return (
    <div class="settings-section">
      <h2 id="tfa-title">Two-factor authentication</h2>
      <p class="muted">A code from an authenticator app on your phone in addition to your password when you log in to the web. Desktop and mobile clients then connect with an app password (or their browser login).</p>
      {st?.enforced && !st.totp && <p class="hint" role="status">Your administrator requires two-factor authentication.</p>}
      {st && !st.totp && !enrol && <button type="button" class="primary" onClick={start}>Enable TOTP</button>}
      {enrol && (
        <form onSubmit={verify} aria-label="Set up TOTP">
          <p>Scan this QR code with your authenticator app, or enter the secret, then enter the code it shows to finish.</p>
          <img src={enrol.qr} alt="QR code for your authenticator app" width={225} height={225} />
          <p>Secret: <code id="totp-secret">{enrol.secret}</code></p>
          <div class="form-grid narrow">
            <div><label for="tfa-code">Authentication code</label>
              <input id="tfa-code" type="text" inputMode="numeric" autocomplete="one-time-code" required value={code} onInput={(e) => setCode((e.target as HTMLInputElement).value)} /></div>
          </div>
          <div class="button-row"><button type="submit" class="primary">Verify</button><button type="button" onClick={() => { setEnrol(null); setCode(''); }}>Cancel</button></div>
        </form>
      )}
      {st?.totp && (
        <>
          <p role="status">TOTP is enabled. {st.backupCodes.total
            ? `${st.backupCodes.remaining} of ${st.backupCodes.total} backup codes left.`
            : 'You have no backup codes yet.'}</p>
          <div class="button-row"><button type="button" onClick={generate}>{st.backupCodes.total ? 'Regenerate backup codes' : 'Generate backup codes'}</button></div>
          {codes && (
            <div class="created-secret" role="status">
              <p><strong>Save these backup codes now.</strong> Each works once, in place of a code from your phone. They are shown only this once; generating new ones makes these invalid.</p>
              <ul class="plain-list" aria-label="Backup codes">{codes.map((c) => <li key={c}><code>{c}</code></li>)}</ul>
              <div class="button-row"><button type="button" onClick={() => setCodes(null)}>Done</button></div>
            </div>
          )}
          <form class="inline-form" onSubmit={disable}>
            <label for="tfa-disable-pw" class="visually-hidden">Password to disable two-factor authentication</label>
            <input id="tfa-disable-pw" type="password" autocomplete="current-password" placeholder="Your password" required value={pw} onInput={(e) => setPw((e.target as HTMLInputElement).value)} />
            <button type="submit" class="secondary">Disable two-factor authentication</button>
          </form>
        </>
      )}
      {msg && <p class={msg.ok ? 'form-ok' : 'form-error'} role={msg.ok ? 'status' : 'alert'}>{msg.text}</p>}
    </div>
  );
}
