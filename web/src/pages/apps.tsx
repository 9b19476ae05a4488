import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { errorToast, toast } from '../components/toast.tsx';

interface AppRow { id: string; name: string; version: string; enabled: boolean; alwaysEnabled: boolean }

const DESCRIPTIONS: Record<string, string> = {
  dav: 'WebDAV endpoint used by the desktop and mobile clients.',
  encryption: 'Encrypts files at rest with authenticated encryption. Needed for server-side encryption.',
  files: 'File management: the Files app and its sync protocol.',
};

/** `/settings/apps`: every app with Enable/Disable. */
export function AppsPage() {
  const [apps, setApps] = useState<AppRow[] | null>(null);
  const [busy, setBusy] = useState('');
  const load = () => api<{ apps: AppRow[] }>('apps').then((r) => setApps(r.apps)).catch(errorToast);
  useEffect(() => { void load(); }, []);
  const toggle = async (a: AppRow) => {
    setBusy(a.id);
    try {
      await api(`apps/${encodeURIComponent(a.id)}/${a.enabled ? 'disable' : 'enable'}`, { method: 'POST' });
      toast(`${a.name} ${a.enabled ? 'disabled' : 'enabled'}`);
      await load();
    } catch (e) { errorToast(e); } finally { setBusy(''); }
  };
  return (
    <section class="page settings-page">
      <h1>Apps</h1>
      <p class="lead">Enable or disable the features of this Coffer server.</p>
      {apps && (
        <table class="data-table apps-table">
          <caption class="visually-hidden">Apps</caption>
          <thead><tr><th scope="col">App</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
          <tbody>
            {apps.map((a) => (
              <tr key={a.id}>
                <th scope="row"><span class="app-name">{a.name}</span><span class="muted small">{DESCRIPTIONS[a.id] ?? a.id}</span></th>
                <td>{a.version}</td>
                <td><span class={`pill ${a.enabled ? 'on' : 'off'}`}>{a.enabled ? 'Enabled' : 'Disabled'}</span></td>
                <td class="actions">
                  {a.alwaysEnabled
                    ? <span class="muted small">Always enabled</span>
                    : <button type="button" class={a.enabled ? '' : 'primary'} disabled={busy === a.id} onClick={() => toggle(a)}>{a.enabled ? 'Disable' : 'Enable'}</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
