import { useEffect, useRef, useState } from 'preact/hooks';
import { api, formatDate, formatSize, type ApiError } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { FileIcon, FolderIcon, RestoreIcon, TrashIcon } from '../components/icons.tsx';
import { errorToast, toast } from '../components/toast.tsx';
import { linkClick } from '../router.ts';

/** One row of the view (as `/web/api/trash` answers). */
interface TrashEntry {
  item: string; path: string; name: string; type: 'file' | 'dir'; size: number; mimetype: string;
  originalLocation: string; deletedAt: number; deletedBy: string; deletedByName: string; owner?: string;
}
interface Listing { folder?: TrashEntry; items: TrashEntry[] }

export const TRASH_URL = '/apps/files/trashbin';

function trashUrl(item?: string, path?: string): string {
  if (!item) return TRASH_URL;
  return `${TRASH_URL}?item=${encodeURIComponent(item)}${path ? `&path=${encodeURIComponent(path)}` : ''}`;
}

/** The folder a node was deleted from ('' = the root). */
function fromFolder(e: TrashEntry): string {
  const i = e.originalLocation.lastIndexOf('/');
  return i < 0 ? 'All files' : e.originalLocation.slice(0, i);
}

function Crumbs({ folder }: { folder?: TrashEntry }) {
  const parts = folder ? folder.path.split('/').filter(Boolean) : [];
  const itemName = folder ? folder.item.replace(/\.d\d+$/, '') : '';
  const link = (to: string, label: string, current: boolean) => (
    <a href={to} onClick={(e) => linkClick(e, to)} aria-current={current ? 'page' : undefined}>{label}</a>
  );
  return (
    <nav class="breadcrumbs" aria-label="Breadcrumbs">
      <ol>
        <li>{link(trashUrl(), 'Deleted files', !folder)}</li>
        {folder && <li>{link(trashUrl(folder.item), itemName, parts.length === 0)}</li>}
        {folder && parts.map((p, i) => {
          const rel = parts.slice(0, i + 1).join('/');
          return <li key={rel}>{link(trashUrl(folder.item, rel), p, i === parts.length - 1)}</li>;
        })}
      </ol>
    </nav>
  );
}

function Confirm(props: { title: string; text: string; action: string; onConfirm: () => Promise<void>; onClose: () => void }) {
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const go = async () => {
    setBusy(true);
    try { await props.onConfirm(); props.onClose(); } catch (e) { setErr((e as Error).message); setBusy(false); }
  };
  return (
    <Dialog title={props.title} onClose={props.onClose} alert>
      <p>{props.text}</p>
      {err && <p class="form-error" role="alert">{err}</p>}
      <div class="dialog-actions">
        <button type="button" onClick={props.onClose}>Cancel</button>
        <button type="button" class="danger-button" onClick={go} disabled={busy}>{props.action}</button>
      </div>
    </Dialog>
  );
}

/**
 * "Deleted files" (issue #15): the trash bin, newest first, with where each item was deleted from
 * and when; browse into trashed folders; restore (to where it was, "name (restored)" on a clash),
 * delete for good, empty it.
 */
export function DeletedFilesPage({ item, path }: { item: string; path: string }) {
  const [listing, setListing] = useState<Listing | null>(null);
  const [loadError, setLoadError] = useState('');
  const [confirm, setConfirm] = useState<{ kind: 'delete'; entry: TrashEntry } | { kind: 'empty' } | null>(null);
  const load = () => {
    const q = item ? `?item=${encodeURIComponent(item)}&path=${encodeURIComponent(path)}` : '';
    api<Listing>(`trash${q}`)
      .then((l) => { setListing(l); setLoadError(''); })
      .catch((e: ApiError) => { setLoadError(e.message); setListing(null); });
  };
  useEffect(load, [item, path]);
  // a restored or deleted row goes away with the focused button: move focus to the next one
  const refocus = useRef(-1);
  useEffect(() => {
    const i = refocus.current;
    refocus.current = -1;
    if (i < 0 || document.activeElement !== document.body) return;
    const rows = [...document.querySelectorAll<HTMLElement>('.trash-table tbody tr')];
    (rows[Math.min(i, rows.length - 1)]?.querySelector<HTMLElement>('.col-actions button') ?? document.querySelector<HTMLElement>('.trash-page .breadcrumbs a'))?.focus();
  }, [listing]);

  const restore = async (e: TrashEntry) => {
    try {
      const r = await api<{ path: string; name: string }>('trash/restore', { method: 'POST', body: { item: e.item, path: e.path } });
      toast(r.name === e.name ? `Restored “${e.name}”` : `Restored “${e.name}” as “${r.name}”`);
      refocus.current = items.indexOf(e);
      load();
    } catch (err) { errorToast(err); }
  };
  const items = listing?.items ?? [];

  return (
    <section class="page files-page trash-page">
      <h1 class="visually-hidden">Deleted files</h1>
      <div class="files-toolbar">
        <Crumbs folder={listing?.folder} />
        {!item && items.length > 0 && (
          <div class="toolbar-actions">
            <button type="button" class="secondary" onClick={() => setConfirm({ kind: 'empty' })}><TrashIcon /><span>Empty deleted files</span></button>
          </div>
        )}
      </div>
      {loadError && <p class="form-error" role="alert">{loadError} <a href={trashUrl()} onClick={(e) => linkClick(e, trashUrl())}>Back to deleted files</a></p>}
      {listing && items.length === 0 && (
        <div class="empty">
          <TrashIcon />
          <h2>{item ? 'This folder is empty' : 'No deleted files'}</h2>
          <p>{item ? '' : 'Files and folders you delete show up here.'}</p>
        </div>
      )}
      {listing && items.length > 0 && (
        <table class="files-table trash-table">
          <caption class="visually-hidden">Deleted files{listing.folder ? ` in ${listing.folder.name}` : ''}</caption>
          <thead>
            <tr>
              <th scope="col" class="col-name"><span class="th">Name</span></th>
              <th scope="col" class="col-actions"><span class="visually-hidden">Actions</span></th>
              <th scope="col" class="col-origin"><span class="th">Original location</span></th>
              <th scope="col" class="col-size"><span class="th">Size</span></th>
              <th scope="col" class="col-mtime"><span class="th">Deleted</span></th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => {
              const when = new Date(e.deletedAt * 1000).toLocaleString();
              return (
                <tr key={`${e.item}/${e.path}`}>
                  <td class="col-name"><div class="name-cell trash-name">
                    {e.type === 'dir'
                      ? <a class="name" href={trashUrl(e.item, e.path)} onClick={(ev) => linkClick(ev, trashUrl(e.item, e.path))}><FolderIcon /><span class="name-text" title={e.name}>{e.name}</span></a>
                      : <span class="name"><FileIcon /><span class="name-text" title={e.name}>{e.name}</span></span>}
                    <span class="trash-sub">{fromFolder(e)} · {formatDate(e.deletedAt)}</span>
                  </div></td>
                  <td class="col-actions">
                    <button type="button" class="icon-text-button" aria-label={`Restore ${e.name}`} onClick={() => restore(e)}><RestoreIcon /><span>Restore</span></button>
                    {!e.owner && <button type="button" class="icon-button danger-icon" aria-label={`Delete ${e.name} permanently`} title="Delete permanently"
                      onClick={() => setConfirm({ kind: 'delete', entry: e })}><TrashIcon /></button>}
                  </td>
                  <td class="col-origin" title={e.originalLocation}>{fromFolder(e)}</td>
                  <td class="col-size">{formatSize(e.size)}</td>
                  <td class="col-mtime" title={`${when} by ${e.deletedByName}`}>{formatDate(e.deletedAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {confirm?.kind === 'delete' && (
        <Confirm title={`Delete “${confirm.entry.name}” permanently?`} action="Delete permanently" onClose={() => setConfirm(null)}
          text={`“${confirm.entry.name}”${confirm.entry.type === 'dir' ? ' and everything in it' : ''} will be deleted for good, with its versions. This cannot be undone.`}
          onConfirm={async () => {
            await api('trash/delete', { method: 'POST', body: { item: confirm.entry.item, path: confirm.entry.path } });
            toast(`Deleted “${confirm.entry.name}” permanently`);
            refocus.current = items.indexOf(confirm.entry);
            load();
          }} />
      )}
      {confirm?.kind === 'empty' && (
        <Confirm title="Empty deleted files?" action="Empty deleted files" onClose={() => setConfirm(null)}
          text={items.length === 1 ? 'The deleted item will be deleted for good, with its versions. This cannot be undone.'
            : `All ${items.length} deleted items will be deleted for good, with their versions. This cannot be undone.`}
          onConfirm={async () => {
            await api('trash/empty', { method: 'POST' });
            toast('Deleted files emptied');
            refocus.current = 0;
            load();
          }} />
      )}
    </section>
  );
}
