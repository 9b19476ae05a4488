import { useEffect, useRef, useState } from 'preact/hooks';
import { api, formatDate, formatSize, type SessionUser } from '../api.ts';
import { errorToast, toast } from '../components/toast.tsx';
import { TwoFactorSection } from './two-factor-settings.tsx';

interface Me { uid: string; displayName: string; email: string | null; quota: { used: number; total: number | null } }
interface AppPw { id: number; name: string; createdAt: number; lastUsed: number | null }
interface Sess { id: number; createdAt: number; lastActive: number; userAgent: string; ip: string; current: boolean }

function describeAgent(ua: string): string {
  if (!ua) return 'Unknown browser';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

function PasswordSection({ onChanged }: { onChanged: () => void }) {
  const [cur, setCur] = useState('');
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (pw !== pw2) { setMsg({ ok: false, text: 'The new passwords do not match.' }); return; }
    try {
      const r = await api<{ otherSessionsEnded: number }>('me/password', { method: 'POST', body: { current: cur, password: pw } });
      const n = r.otherSessionsEnded;
      setMsg({ ok: true, text: `Password changed.${n ? ` ${n} other ${n === 1 ? 'session was' : 'sessions were'} logged out.` : ''}` });
      setCur(''); setPw(''); setPw2('');
      onChanged();
    } catch (e2) { setMsg({ ok: false, text: (e2 as Error).message }); }
  };
  return (
    <form class="settings-section" onSubmit={submit} aria-labelledby="pw-title">
      <h2 id="pw-title">Password</h2>
      <div class="form-grid narrow">
        <div><label for="pw-cur">Current password</label><input id="pw-cur" type="password" autocomplete="current-password" required value={cur} onInput={(e) => setCur((e.target as HTMLInputElement).value)} /></div>
        <div><label for="pw-new">New password</label><input id="pw-new" type="password" autocomplete="new-password" required value={pw} onInput={(e) => setPw((e.target as HTMLInputElement).value)} /></div>
        <div><label for="pw-new2">Confirm new password</label><input id="pw-new2" type="password" autocomplete="new-password" required value={pw2} onInput={(e) => setPw2((e.target as HTMLInputElement).value)} /></div>
      </div>
      {msg && <p class={msg.ok ? 'form-ok' : 'form-error'} role={msg.ok ? 'status' : 'alert'}>{msg.text}</p>}
      <button type="submit" class="primary">Change password</button>
    </form>
  );
}

function AppPasswords({ uid }: { uid: string }) {
  const [list, setList] = useState<AppPw[]>([]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ loginName: string; token: string } | null>(null);
  const tokenRef = useRef<HTMLInputElement>(null);
  const load = () => api<{ appPasswords: AppPw[] }>('app-passwords').then((r) => setList(r.appPasswords)).catch(errorToast);
  useEffect(() => { void load(); }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await api<{ loginName: string; token: string }>('app-passwords', { method: 'POST', body: { name } });
      setCreated(r); setName(''); await load();
    } catch (e2) { errorToast(e2); }
  };
  const revoke = async (a: AppPw) => {
    try { await api(`app-passwords/${a.id}`, { method: 'DELETE' }); toast(`Revoked “${a.name}”`); await load(); } catch (e) { errorToast(e); }
  };
  const copy = async () => {
    try { await navigator.clipboard.writeText(created!.token); toast('Copied'); } catch { tokenRef.current?.select(); document.execCommand('copy'); toast('Copied'); }
  };
  return (
    <div class="settings-section">
      <h2>Devices &amp; app passwords</h2>
      <p class="muted">Use an app password to connect a desktop or mobile client, or any WebDAV app, without giving it your login password. The desktop client can also create one for you through its browser login.</p>
      <ul class="plain-list" aria-label="App passwords">
        {list.length === 0 && <li class="muted">No app passwords yet.</li>}
        {list.map((a) => (
          <li key={a.id} class="list-row">
            <div><strong>{a.name}</strong><span class="muted small">Created {formatDate(a.createdAt)} · last used {a.lastUsed ? formatDate(a.lastUsed) : 'never'}</span></div>
            <button type="button" onClick={() => revoke(a)} aria-label={`Revoke ${a.name}`}>Revoke</button>
          </li>
        ))}
      </ul>
      <form class="inline-form" onSubmit={create}>
        <label for="ap-name" class="visually-hidden">App name</label>
        <input id="ap-name" type="text" placeholder="App name, e.g. Laptop" value={name} required onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit" class="secondary">Create new app password</button>
      </form>
      {created && (
        <div class="created-secret" role="status">
          <p><strong>Use these credentials to configure the app.</strong> For security reasons the password is shown only once.</p>
          <div class="form-grid narrow">
            <div><label for="ap-login">Login name</label><input id="ap-login" type="text" readOnly value={created.loginName || uid} /></div>
            <div><label for="ap-token">App password</label><input id="ap-token" ref={tokenRef} type="text" readOnly value={created.token} onFocus={(e) => (e.target as HTMLInputElement).select()} /></div>
          </div>
          <div class="button-row"><button type="button" onClick={copy}>Copy app password</button><button type="button" onClick={() => setCreated(null)}>Done</button></div>
        </div>
      )}
    </div>
  );
}

function Sessions() {
  const [list, setList] = useState<Sess[]>([]);
  const load = () => api<{ sessions: Sess[] }>('sessions').then((r) => setList(r.sessions)).catch(errorToast);
  useEffect(() => { void load(); }, []);
  const revoke = async (s: Sess) => {
    try {
      await api(`sessions/${s.id}`, { method: 'DELETE' });
      if (s.current) { window.location.href = '/login'; return; }
      toast('Session ended'); await load();
    } catch (e) { errorToast(e); }
  };
  return (
    <div class="settings-section">
      <h2>Active sessions</h2>
      <p class="muted">Browsers that are logged in to your account.</p>
      <ul class="plain-list" aria-label="Active sessions">
        {list.map((s) => (
          <li key={s.id} class="list-row">
            <div><strong>{describeAgent(s.userAgent)}{s.current ? ' (this browser)' : ''}</strong>
              <span class="muted small">{s.ip || 'unknown address'} · logged in {formatDate(s.createdAt)} · active {formatDate(s.lastActive)}</span></div>
            <button type="button" onClick={() => revoke(s)} aria-label={s.current ? 'Log out this browser' : `Revoke session ${s.id}: ${describeAgent(s.userAgent)}, ${s.ip || 'unknown address'}`}>{s.current ? 'Log out' : 'Revoke'}</button>
          </li>
        ))}
      </ul>
    </div>
  );
}

interface RecoveryState { enabled: boolean; recoveryKeyEnabled: boolean; encryptionEnabled: boolean; perUserMode: boolean }

/** Opt into (or out of) password recovery by the instance recovery key (per-user-key mode). */
function RecoverySection() {
  const [st, setSt] = useState<RecoveryState | null>(null);
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => { api<RecoveryState>('me/recovery').then(setSt).catch(errorToast); }, []);
  const perUser = !!st && st.encryptionEnabled && st.perUserMode;
  const toggle = async (e: Event) => {
    const want = (e.target as HTMLInputElement).checked;
    const before = st!;
    setSt({ ...before, enabled: want }); // optimistic; reverted when the server refuses
    setBusy(true);
    try {
      await api('me/recovery', { method: 'POST', body: { enabled: want } });
      setMsg({ ok: true, text: want ? 'Password recovery enabled.' : 'Password recovery disabled.' });
    } catch (e2) {
      setSt(before);
      setMsg({ ok: false, text: (e2 as Error).message });
    }
    setBusy(false);
  };
  const hint = !st ? '' : !perUser
    ? 'Your files do not depend on your password: Coffer encrypts with a server master key, so a password reset by your administrator never loses data. There is nothing to opt into.'
    : !st.recoveryKeyEnabled
      ? 'Not available yet: your administrator has not set up a recovery key.'
      : 'Your files are encrypted with a key locked by your password. If you enable this, an administrator can use the recovery key to give you a new password without losing your files. If you do not, a forgotten password means your files are lost.';
  return (
    <div class="settings-section">
      <h2>Password recovery</h2>
      {st && perUser && (
        <div class="check-row big">
          <input id="recovery-optin" type="checkbox" checked={st.enabled} disabled={busy || (!st.recoveryKeyEnabled && !st.enabled)}
            aria-describedby="recovery-hint" onChange={toggle} />
          <label for="recovery-optin">Enable password recovery</label>
        </div>
      )}
      <p id="recovery-hint" class={perUser ? 'hint' : 'muted'}>{hint}</p>
      {msg && <p class={msg.ok ? 'form-ok' : 'form-error'} role={msg.ok ? 'status' : 'alert'}>{msg.text}</p>}
    </div>
  );
}

/** `/settings/user`: personal info, password, recovery, two-factor authentication, app passwords, sessions. */
export function PersonalPage({ user }: { user: SessionUser }) {
  const [me, setMe] = useState<Me | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    api<Me>('me').then(setMe).catch(errorToast);
  }, []);
  const pct = me && me.quota.total ? Math.min(100, Math.round((me.quota.used / me.quota.total) * 100)) : 0;
  return (
    <section class="page settings-page">
      <h1>Personal settings</h1>
      <div class="settings-section">
        <h2>Personal info</h2>
        {me && <dl class="facts">
          <div><dt>Username</dt><dd>{me.uid}</dd></div>
          <div><dt>Display name</dt><dd>{me.displayName}</dd></div>
          <div><dt>Email</dt><dd>{me.email ?? '—'}</dd></div>
          <div><dt>Storage</dt><dd>
            {formatSize(me.quota.used)} used{me.quota.total !== null ? ` of ${formatSize(me.quota.total)} (${pct}%)` : ''}
            {me.quota.total !== null && <progress class="quota-bar" aria-label="Storage used" max={100} value={pct} />}
          </dd></div>
        </dl>}
      </div>
      <PasswordSection onChanged={() => setVersion((v) => v + 1)} />
      <RecoverySection />
      <TwoFactorSection />
      <AppPasswords uid={user.uid} />
      <Sessions key={version} />
    </section>
  );
}
