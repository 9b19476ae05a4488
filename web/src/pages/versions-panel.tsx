import { useEffect, useRef, useState } from 'preact/hooks';
import { api, downloadUrl, formatDateTime, formatSize } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { errorToast, toast } from '../components/toast.tsx';
import type { Entry } from './files.tsx';

interface Version { version: number; size: number; mimetype: string; etag: string; label: string; author: string | null; authorName: string | null }
interface Versions {
  file: { fileId: number; name: string; size: number; mtime: number; etag: string; author: string | null; authorName: string | null };
  /** Share permissions on the file (2 = update: restore, label, delete). */
  permissions: number;
  versions: Version[];
}

function versionUrl(fileId: number, v: number, action = ''): string {
  return `versions/${fileId}/${v}${action ? `/${action}` : ''}`;
}

function LabelForm({ initial, onSave, onCancel }: { initial: string; onSave: (label: string) => Promise<void>; onCancel: () => void }) {
  const [v, setV] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => { input.current?.focus(); input.current?.select(); }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try { await onSave(v.trim()); } catch (e2) { setErr((e2 as Error).message); setBusy(false); }
  };
  return (
    <form class="label-form" onSubmit={submit}>
      <input type="text" value={v} maxLength={255} ref={input} aria-label="Version label" placeholder="Label"
        onInput={(e) => setV((e.target as HTMLInputElement).value)} />
      <button type="submit" class="primary" disabled={busy}>Save label</button>
      <button type="button" onClick={onCancel}>Cancel</button>
      {err && <p class="form-error" role="alert">{err}</p>}
    </form>
  );
}

function VersionRow(props: { entry: Entry; data: Versions; v: Version; onChanged: () => void }) {
  const { entry, data, v } = props;
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const when = formatDateTime(v.version);
  const canUpdate = (data.permissions & 2) !== 0;
  const act = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true);
    try { await what(); toast(done); props.onChanged(); } catch (e) { errorToast(e); } finally { setBusy(false); }
  };
  return (
    <li class="version-row">
      <div class="version-main">
        <span class="version-title">{v.label || when}</span>
        <span class="version-meta">{v.label ? `${when} · ` : ''}{formatSize(v.size)}{v.authorName ? ` · ${v.authorName}` : ''}</span>
      </div>
      {editing ? (
        <LabelForm initial={v.label} onCancel={() => setEditing(false)} onSave={async (label) => {
          await api(versionUrl(data.file.fileId, v.version, 'label'), { method: 'POST', body: { label } });
          setEditing(false);
          toast(label ? `Labelled the version “${label}”` : 'Label removed');
          props.onChanged();
        }} />
      ) : (
        <div class="version-actions">
          <a class="button" href={`/web/api/${versionUrl(data.file.fileId, v.version, 'download')}`} download={entry.name}
            aria-label={`Download version from ${when}`}>Download</a>
          {canUpdate && <>
            <button type="button" disabled={busy} aria-label={`Restore version from ${when}`}
              onClick={() => act(() => api(versionUrl(data.file.fileId, v.version, 'restore'), { method: 'POST' }), `Restored the version from ${when}`)}>Restore</button>
            <button type="button" disabled={busy} aria-label={`${v.label ? 'Edit label of' : 'Label'} version from ${when}`} onClick={() => setEditing(true)}>{v.label ? 'Edit label' : 'Label'}</button>
            <button type="button" class="danger-text" disabled={busy} aria-label={`Delete version from ${when}`}
              onClick={() => act(() => api(versionUrl(data.file.fileId, v.version, 'delete'), { method: 'POST' }), `Deleted the version from ${when}`)}>Delete</button>
          </>}
        </div>
      )}
    </li>
  );
}

/**
 * A file's versions (issue #15): the current content first, then the older ones, newest first;
 * download each, and with update permission restore, label or delete one.
 */
export function VersionsPanel({ entry, onChanged, onClose }: { entry: Entry; onChanged: () => void; onClose: () => void }) {
  const [data, setData] = useState<Versions | null>(null);
  const [err, setErr] = useState('');
  const load = () => {
    api<Versions>(`versions/${entry.fileId}`).then((d) => { setData(d); setErr(''); }).catch((e) => setErr((e as Error).message));
  };
  useEffect(load, [entry.fileId]);
  const list = useRef<HTMLUListElement>(null);
  // a restored or deleted version's row goes away with the focused button: keep focus in the panel
  useEffect(() => {
    if (data && document.activeElement === document.body) list.current?.querySelector<HTMLElement>('a, button')?.focus();
  }, [data]);
  const changed = () => { load(); onChanged(); };
  return (
    <Dialog title={`Versions of “${entry.name}”`} onClose={onClose} wide>
      {err && <p class="form-error" role="alert">{err}</p>}
      {!data && !err && <p class="muted">Loading…</p>}
      {data && (
        <ul class="versions" aria-label="Versions" ref={list}>
          <li class="version-row current">
            <div class="version-main">
              <span class="version-title">Current version</span>
              <span class="version-meta">{formatDateTime(data.file.mtime)} · {formatSize(data.file.size)}{data.file.authorName ? ` · ${data.file.authorName}` : ''}</span>
            </div>
            <div class="version-actions">
              <a class="button" href={downloadUrl(entry.path)} download={entry.name} aria-label="Download current version">Download</a>
            </div>
          </li>
          {data.versions.map((v) => <VersionRow key={v.version} entry={entry} data={data} v={v} onChanged={changed} />)}
        </ul>
      )}
      {data && data.versions.length === 0 && <p class="muted small">No older versions yet: saving over this file keeps the previous content here.</p>}
      <div class="dialog-actions">
        <button type="button" onClick={onClose}>Close</button>
      </div>
    </Dialog>
  );
}
