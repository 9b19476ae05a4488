import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { toast } from '../components/toast.tsx';
import type { Entry } from './files.tsx';

interface Share {
  id: number; shareType: number; shareWith: string | null; permissions: number; hasPassword: boolean; itemType: 'file' | 'folder';
  expiration: string | null; url: string | null; name: string;
}
interface Sharee { type: number; id: string; label: string }

async function copyText(text: string, fallback: HTMLInputElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
  } catch { /* fall through */ }
  if (!fallback) return false;
  fallback.select();
  try { return document.execCommand('copy'); } catch { return false; }
}

function LinkRow({ share, onDelete }: { share: Share; onDelete: () => void }) {
  const ref = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    const ok = await copyText(share.url!, ref.current);
    setCopied(ok);
    toast(ok ? 'Link copied' : 'Select the link and copy it', ok ? 'info' : 'error');
  };
  return (
    <li class="share-row link">
      <div class="share-main">
        <strong>Share link</strong>
        <span class="muted">{share.hasPassword ? 'Password protected' : 'No password'}{share.expiration ? ` · expires ${share.expiration}` : ''}</span>
      </div>
      <div class="share-buttons">
        <button type="button" class="primary" onClick={copy}>{copied ? 'Copied' : 'Copy link'}</button>
        <button type="button" onClick={onDelete} aria-label="Delete share link">Unshare</button>
      </div>
      <input ref={ref} class="link-input" type="text" readOnly value={share.url!} aria-label="Public link" onFocus={(e) => (e.target as HTMLInputElement).select()} />
    </li>
  );
}

/** Share a file or folder with users, groups, or by public link. */
export function ShareDialog({ entry, onClose }: { entry: Entry; onClose: () => void }) {
  const [shares, setShares] = useState<Share[] | null>(null);
  const [search, setSearch] = useState('');
  const [sharees, setSharees] = useState<Sharee[]>([]);
  const [err, setErr] = useState('');
  const [usePw, setUsePw] = useState(false);
  const [pw, setPw] = useState('');
  const [useExp, setUseExp] = useState(false);
  const [exp, setExp] = useState('');
  const [busy, setBusy] = useState(false);
  // The most a share of this item may grant: what the user holds on it (the server's rule).
  const [ceiling, setCeiling] = useState<number | null>(null);
  const received = !!entry.owner;

  const load = () => api<{ shares: Share[]; ceiling?: number }>(`shares?path=${encodeURIComponent(entry.path)}`)
    .then((r) => { setShares(r.shares); setCeiling(r.ceiling ?? 31); }).catch((e) => setErr(e.message));
  const canShare = ceiling !== 0;
  const canEdit = ceiling !== null && (ceiling & 2) !== 0;
  useEffect(() => { void load(); }, []);
  useEffect(() => {
    const q = search.trim();
    if (!q) { setSharees([]); return; }
    const t = setTimeout(() => {
      api<{ sharees: Sharee[] }>(`sharees?search=${encodeURIComponent(q)}`).then((r) => setSharees(r.sharees)).catch(() => setSharees([]));
    }, 150);
    return () => clearTimeout(t);
  }, [search]);

  const create = async (body: Record<string, unknown>) => {
    setErr('');
    setBusy(true);
    try {
      await api('shares', { method: 'POST', body: { path: entry.path, ...body } });
      await load();
      return true;
    } catch (e) { setErr((e as Error).message); return false; } finally { setBusy(false); }
  };
  const shareWith = async (s: Sharee) => {
    if (await create({ shareType: s.type, shareWith: s.id })) { toast(`Shared with ${s.label}`); setSearch(''); }
  };
  const createLink = async (e: Event) => {
    e.preventDefault();
    if (usePw && pw.length === 0) { setErr('Enter a password or untick “Password protect”.'); return; }
    if (useExp && !exp) { setErr('Choose an expiration date or untick “Set expiration date”.'); return; }
    if (await create({ shareType: 3, password: usePw ? pw : undefined, expireDate: useExp ? exp : undefined })) {
      toast('Share link created'); setPw(''); setUsePw(false); setUseExp(false); setExp('');
    }
  };
  const remove = async (s: Share) => {
    try { await api(`shares/${s.id}`, { method: 'DELETE' }); await load(); toast('Share removed'); } catch (e) { setErr((e as Error).message); }
  };
  const setPerms = async (s: Share, v: string) => {
    const max = ceiling ?? 31;
    const edit = (s.itemType === 'folder' ? 31 : 19) & max;
    const view = 17 & max;
    try { await api(`shares/${s.id}`, { method: 'PUT', body: { permissions: v === 'edit' ? edit : view } }); await load(); toast(`${s.shareWith} can ${v === 'edit' ? 'edit' : 'only view'} now`); } catch (e) { setErr((e as Error).message); }
  };
  const tomorrow = new Date(Date.now() + 86400_000).toISOString().slice(0, 10);
  const people = (shares ?? []).filter((s) => s.shareType !== 3);
  const links = (shares ?? []).filter((s) => s.shareType === 3);

  return (
    <Dialog title={`Share “${entry.name}”`} onClose={onClose} wide>
      {received && <p class="muted">Shared with you by {entry.owner}{canShare ? (canEdit ? '.' : '. You can share it for viewing only.') : '. You are not allowed to share it.'}</p>}
      <div class="share-search">
        <label for="share-search">Share with users or groups</label>
        <input id="share-search" type="search" autocomplete="off" placeholder="Name or group…" value={search} disabled={!canShare}
          onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        {sharees.length > 0 && (
          <ul class="sharee-results" aria-label="Matching users and groups">
            {sharees.map((s) => (
              <li key={`${s.type}:${s.id}`}>
                <button type="button" class="sharee" disabled={busy} onClick={() => shareWith(s)}>
                  <span class="avatar small" aria-hidden="true">{s.label.slice(0, 1).toUpperCase()}</span>
                  <span>{s.label}{s.type === 1 ? ' (group)' : s.label !== s.id ? ` (${s.id})` : ''}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        {search.trim() && sharees.length === 0 && <p class="muted">No users or groups found.</p>}
      </div>
      {people.length > 0 && (
        <ul class="share-list" aria-label="People with access">
          {people.map((s) => (
            <li class="share-row" key={s.id}>
              <span class="avatar small" aria-hidden="true">{(s.shareWith ?? '?').slice(0, 1).toUpperCase()}</span>
              <div class="share-main"><strong>{s.shareWith}</strong><span class="muted">{s.shareType === 1 ? 'Group' : 'User'}</span></div>
              <select aria-label={`Permissions of ${s.shareWith}`} value={(s.permissions & 2) ? 'edit' : 'view'} onChange={(e) => setPerms(s, (e.target as HTMLSelectElement).value)}>
                {(canEdit || (s.permissions & 2) !== 0) && <option value="edit">Can edit</option>}
                <option value="view">View only</option>
              </select>
              <button type="button" onClick={() => remove(s)} aria-label={`Stop sharing with ${s.shareWith}`}>Unshare</button>
            </li>
          ))}
        </ul>
      )}
      <h3 class="section-title">Public links</h3>
      {links.length > 0 && <ul class="share-list">{links.map((s) => <LinkRow key={s.id} share={s} onDelete={() => remove(s)} />)}</ul>}
      <form class="link-form" onSubmit={createLink}>
        <div class="check-row">
          <input id="link-pw" type="checkbox" checked={usePw} onChange={(e) => setUsePw((e.target as HTMLInputElement).checked)} />
          <label for="link-pw">Password protect</label>
        </div>
        {usePw && <><label for="link-pw-value" class="visually-hidden">Link password</label>
          <input id="link-pw-value" type="password" autocomplete="new-password" placeholder="Link password" value={pw} onInput={(e) => setPw((e.target as HTMLInputElement).value)} /></>}
        <div class="check-row">
          <input id="link-exp" type="checkbox" checked={useExp} onChange={(e) => setUseExp((e.target as HTMLInputElement).checked)} />
          <label for="link-exp">Set expiration date</label>
        </div>
        {useExp && <><label for="link-exp-value" class="visually-hidden">Expiration date</label>
          <input id="link-exp-value" type="date" min={tomorrow} value={exp} onInput={(e) => setExp((e.target as HTMLInputElement).value)} /></>}
        <button type="submit" class="secondary" disabled={busy || !canShare}>Create public link</button>
      </form>
      {err && <p class="form-error" role="alert">{err}</p>}
      <div class="dialog-actions"><button type="button" onClick={onClose}>Close</button></div>
    </Dialog>
  );
}
