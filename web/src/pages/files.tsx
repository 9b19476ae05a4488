import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, downloadUrl, formatDate, formatSize, type ApiError } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { DotsIcon, FileIcon, FolderIcon, HomeIcon, PlusIcon, ShareIcon, UploadIcon } from '../components/icons.tsx';
import { errorToast, toast } from '../components/toast.tsx';
import { useMenu } from '../components/menu.ts';
import { linkClick } from '../router.ts';
import { ShareDialog } from './share-dialog.tsx';
import { uploadFile, type UploadProgress } from './upload.ts';
import { VersionsPanel } from './versions-panel.tsx';

/**
 * A file's thumbnail (Nextcloud's preview URL; `c` = etag, so that a new version is fetched and an
 * old one is cached); falls back to the file icon when the server has none (404).
 */
function Thumb({ entry }: { entry: Entry }) {
  const [failed, setFailed] = useState(false);
  if (failed) return <FileIcon />;
  const src = `/index.php/core/preview?fileId=${entry.fileId}&x=64&y=64&a=0&c=${encodeURIComponent(entry.etag)}`;
  return <img class="icon thumb" src={src} alt="" width={28} height={28} loading="lazy" decoding="async" onError={() => setFailed(true)} />;
}

export interface Entry {
  name: string; path: string; type: 'file' | 'dir'; size: number; mtime: number; mimetype: string; etag: string;
  fileId: number; permissions: number; owner?: string; shareTypes?: number[]; hasPreview?: boolean;
}
interface Listing { path: string; permissions: number; items: Entry[]; quota: { used: number; total: number | null } }

type SortKey = 'name' | 'size' | 'mtime';

/** '/a/b' (URL form) → 'a/b' (API form). */
function apiPath(dir: string): string { return dir.split('/').filter(Boolean).join('/'); }
function dirUrl(p: string): string { return `/apps/files?dir=${encodeURIComponent('/' + p)}`; }
function join(dir: string, name: string): string { return dir ? `${dir}/${name}` : name; }

function Breadcrumbs({ dir }: { dir: string }) {
  const parts = dir ? dir.split('/') : [];
  return (
    <nav class="breadcrumbs" aria-label="Breadcrumbs">
      <ol>
        <li><a href={dirUrl('')} onClick={(e) => linkClick(e, dirUrl(''))} aria-label="All files" aria-current={parts.length === 0 ? 'page' : undefined}><HomeIcon /></a></li>
        {parts.map((p, i) => {
          const to = parts.slice(0, i + 1).join('/');
          return <li key={to}><a href={dirUrl(to)} onClick={(e) => linkClick(e, dirUrl(to))} aria-current={i === parts.length - 1 ? 'page' : undefined}>{p}</a></li>;
        })}
      </ol>
    </nav>
  );
}

function RowMenu({ entry, onAction }: { entry: Entry; onAction: (a: string) => void }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useMenu(ref, open, setOpen);
  const act = (a: string) => { setOpen(false); onAction(a); };
  return (
    <div class="row-menu" ref={ref}>
      <button type="button" class="icon-button" aria-label={`Actions for ${entry.name}`} aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)}><DotsIcon /></button>
      {open && (
        <div class="menu right" role="menu">
          {entry.type === 'file' && <a role="menuitem" href={downloadUrl(entry.path)} download={entry.name} onClick={() => setOpen(false)}>Download</a>}
          <button type="button" role="menuitem" onClick={() => act('share')}>Share</button>
          {entry.type === 'file' && <button type="button" role="menuitem" onClick={() => act('versions')}>Versions</button>}
          <button type="button" role="menuitem" onClick={() => act('rename')}>Rename</button>
          <button type="button" role="menuitem" onClick={() => act('move')}>Move</button>
          <button type="button" role="menuitem" class="danger" onClick={() => act('delete')}>Delete</button>
        </div>
      )}
    </div>
  );
}

function NameDialog(props: { title: string; label: string; initial: string; submit: string; onSubmit: (v: string) => Promise<void>; onClose: () => void }) {
  const [v, setV] = useState(props.initial);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const inputRef = useRef<HTMLInputElement>(null);
  // before the first paint: a selection set after it (useEffect) can land on what was already typed
  // (a quick typist, or a loaded machine) and keep the old extension: "notes.txt.txt"
  useLayoutEffect(() => {
    const el = inputRef.current;
    if (el) { const dot = props.initial.lastIndexOf('.'); el.setSelectionRange(0, dot > 0 ? dot : props.initial.length); }
  }, []);
  const ok = async (e: Event) => {
    e.preventDefault();
    const name = v.trim();
    if (!name) { setErr('Please enter a name.'); return; }
    if (name.includes('/')) { setErr('Names cannot contain "/".'); return; }
    setBusy(true);
    try { await props.onSubmit(name); props.onClose(); } catch (e2) { setErr((e2 as Error).message); setBusy(false); }
  };
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <form onSubmit={ok}>
        <label for="name-input">{props.label}</label>
        <input id="name-input" ref={inputRef} type="text" value={v} onInput={(e) => setV((e.target as HTMLInputElement).value)} autofocus />
        {err && <p class="form-error" role="alert">{err}</p>}
        <div class="dialog-actions">
          <button type="button" onClick={props.onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>{props.submit}</button>
        </div>
      </form>
    </Dialog>
  );
}

function MoveDialog({ entry, onDone, onClose }: { entry: Entry; onDone: () => void; onClose: () => void }) {
  const start = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
  const [dir, setDir] = useState(start);
  const [folders, setFolders] = useState<Entry[] | null>(null);
  const [err, setErr] = useState('');
  useEffect(() => {
    setFolders(null);
    api<Listing>(`files?path=${encodeURIComponent(dir)}`)
      .then((l) => setFolders(l.items.filter((i) => i.type === 'dir' && i.path !== entry.path)))
      .catch((e) => setErr(e.message));
  }, [dir]);
  const parts = dir ? dir.split('/') : [];
  const target = join(dir, entry.name);
  const doMove = async () => {
    try {
      await api('files/move', { method: 'POST', body: { from: entry.path, to: target } });
      toast(`Moved “${entry.name}” to ${dir ? dir : 'All files'}`);
      onDone();
      onClose();
    } catch (e) { setErr((e as Error).message); }
  };
  return (
    <Dialog title={`Move “${entry.name}”`} onClose={onClose}>
      <p class="muted">Choose the destination folder.</p>
      <div class="picker-crumbs">
        <button type="button" class="link" onClick={() => setDir('')}>All files</button>
        {parts.map((p, i) => <span key={i}> / <button type="button" class="link" onClick={() => setDir(parts.slice(0, i + 1).join('/'))}>{p}</button></span>)}
      </div>
      <ul class="picker" aria-label="Folders">
        {folders === null ? <li class="muted">Loading…</li> : folders.length === 0 ? <li class="muted">No subfolders</li> :
          folders.map((f) => <li key={f.path}><button type="button" class="picker-item" onClick={() => setDir(f.path)}><FolderIcon />{f.name}</button></li>)}
      </ul>
      {err && <p class="form-error" role="alert">{err}</p>}
      <div class="dialog-actions">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="button" class="primary" onClick={doMove} disabled={target === entry.path}>Move here</button>
      </div>
    </Dialog>
  );
}

function DeleteDialog({ entry, onDone, onClose }: { entry: Entry; onDone: () => void; onClose: () => void }) {
  const [err, setErr] = useState('');
  const go = async () => {
    try {
      await api('files/delete', { method: 'POST', body: { path: entry.path } });
      toast(`Moved “${entry.name}” to Deleted files`);
      onDone();
      onClose();
    } catch (e) { setErr((e as Error).message); }
  };
  return (
    <Dialog title={`Delete “${entry.name}”?`} onClose={onClose} alert>
      {entry.owner && !entry.path.includes('/')
        ? <p>“{entry.name}” is shared with you by {entry.owner}: it will be removed from your files (the owner keeps it).</p>
        : <p>“{entry.name}”{entry.type === 'dir' ? ' and everything in it' : ''} will be moved to Deleted files, where you can restore it.</p>}
      {err && <p class="form-error" role="alert">{err}</p>}
      <div class="dialog-actions">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="button" class="danger-button" onClick={go}>Delete</button>
      </div>
    </Dialog>
  );
}

export function FilesPage({ dir: dirParam }: { dir: string }) {
  const dir = apiPath(dirParam);
  const [listing, setListing] = useState<Listing | null>(null);
  const [loadError, setLoadError] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; asc: boolean }>({ key: 'name', asc: true });
  const [dialog, setDialog] = useState<{ kind: string; entry?: Entry } | null>(null);
  const [uploads, setUploads] = useState<UploadProgress | null>(null);
  const [dragging, setDragging] = useState(false);
  const dragDepth = useRef(0);

  const load = () => {
    api<Listing>(`files?path=${encodeURIComponent(dir)}`)
      .then((l) => { setListing(l); setLoadError(''); })
      .catch((e: ApiError) => { setLoadError(e.message); setListing(null); });
  };
  useEffect(load, [dir]);

  const items = useMemo(() => {
    const list = [...(listing?.items ?? [])];
    const f = sort.asc ? 1 : -1;
    list.sort((a, b) => {
      if (a.type !== b.type) return a.type === 'dir' ? -1 : 1;
      const d = sort.key === 'name' ? a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' })
        : sort.key === 'size' ? a.size - b.size : a.mtime - b.mtime;
      return d * f || a.name.localeCompare(b.name);
    });
    return list;
  }, [listing, sort]);

  const startUploads = async (files: File[]) => {
    if (files.length === 0) return;
    const total = files.reduce((s, f) => s + f.size, 0);
    let done = 0;
    const state: UploadProgress = { total, loaded: 0, current: '', count: files.length, index: 0 };
    setUploads({ ...state });
    let failed = 0;
    for (const [i, file] of files.entries()) {
      state.current = file.name;
      state.index = i + 1;
      setUploads({ ...state });
      try {
        await uploadFile(join(dir, file.name), file, (loaded) => { state.loaded = done + loaded; setUploads({ ...state }); });
      } catch (e) {
        failed++;
        errorToast(new Error(`Could not upload “${file.name}”: ${(e as Error).message}`));
      }
      done += file.size;
      state.loaded = done;
      setUploads({ ...state });
    }
    setUploads(null);
    if (failed === 0) toast(files.length === 1 ? `Uploaded “${files[0]!.name}”` : `Uploaded ${files.length} files`);
    load();
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    dragDepth.current = 0;
    setDragging(false);
    const files = [...(e.dataTransfer?.files ?? [])];
    void startUploads(files);
  };

  const sortButton = (key: SortKey, label: string) => {
    const active = sort.key === key;
    return (
      <th scope="col" class={`col-${key}`} aria-sort={active ? (sort.asc ? 'ascending' : 'descending') : 'none'}>
        <button type="button" class="sort" onClick={() => setSort({ key, asc: active ? !sort.asc : true })}>
          {label}<span class="sort-arrow" aria-hidden="true">{active ? (sort.asc ? '▲' : '▼') : ''}</span>
        </button>
      </th>
    );
  };

  const folders = items.filter((i) => i.type === 'dir').length;
  const fileCount = items.length - folders;
  const totalSize = items.reduce((s, i) => s + i.size, 0);

  return (
    <section class="page files-page"
      onDragEnter={(e) => { e.preventDefault(); dragDepth.current++; setDragging(true); }}
      onDragOver={(e) => { e.preventDefault(); }}
      onDragLeave={() => { dragDepth.current = Math.max(0, dragDepth.current - 1); if (dragDepth.current === 0) setDragging(false); }}
      onDrop={onDrop}>
      <h1 class="visually-hidden">Files</h1>
      <div class="files-toolbar">
        <Breadcrumbs dir={dir} />
        {listing && (listing.permissions & 4) === 0 ? <p class="muted small read-only">Read-only folder</p> : <div class="toolbar-actions">
          <button type="button" class="secondary" onClick={() => setDialog({ kind: 'mkdir' })}><PlusIcon /><span>New folder</span></button>
          <label class="button primary upload-button">
            <UploadIcon /><span>Upload</span>
            <input type="file" multiple class="visually-hidden-input" aria-label="Upload"
              onChange={(e) => { const el = e.target as HTMLInputElement; const fs = [...(el.files ?? [])]; el.value = ''; void startUploads(fs); }} />
          </label>
        </div>}
      </div>
      {uploads && (
        <div class="upload-progress" role="status">
          <div class="upload-label">Uploading {uploads.count > 1 ? `${uploads.index} of ${uploads.count}: ` : ''}“{uploads.current}” — {formatSize(uploads.loaded)} of {formatSize(uploads.total)}</div>
          <progress aria-label="Upload progress" max={uploads.total || 1} value={uploads.loaded} />
        </div>
      )}
      {dragging && <div class="drop-overlay" aria-hidden="true"><UploadIcon /> Drop files to upload to {dir ? `“${dir.split('/').pop()}”` : 'All files'}</div>}
      {loadError && <p class="form-error" role="alert">{loadError} <a href={dirUrl('')} onClick={(e) => linkClick(e, dirUrl(''))}>Back to all files</a></p>}
      {listing && items.length === 0 && (
        <div class="empty">
          <FolderIcon />
          <h2>No files in here</h2>
          <p>Upload some content or drop files here.</p>
        </div>
      )}
      {listing && items.length > 0 && (
        <table class="files-table">
          <caption class="visually-hidden">Files in {dir || 'All files'}</caption>
          <thead>
            <tr>{sortButton('name', 'Name')}<th scope="col" class="col-actions"><span class="visually-hidden">Actions</span></th>{sortButton('size', 'Size')}{sortButton('mtime', 'Modified')}</tr>
          </thead>
          <tbody>
            {items.map((it) => (
              <tr key={it.path}>
                <td class="col-name"><div class="name-cell">
                  {it.type === 'dir'
                    ? <a class="name" href={dirUrl(it.path)} onClick={(e) => linkClick(e, dirUrl(it.path))}><FolderIcon /><span class="name-text" title={it.name}>{it.name}</span></a>
                    : <a class="name" href={downloadUrl(it.path)} download={it.name}>{it.hasPreview ? <Thumb entry={it} /> : <FileIcon />}<span class="name-text" title={it.name}>{it.name}</span></a>}
                  {(it.shareTypes?.length || (it.owner && dir === '')) && (
                    <span class="shared-badge" title={it.owner ? `Shared by ${it.owner}` : 'Shared'}>
                      <ShareIcon /><span>{it.owner ? `Shared by ${it.owner}` : it.shareTypes!.includes(3) ? 'Shared link' : 'Shared'}</span>
                    </span>
                  )}
                </div></td>
                <td class="col-actions">
                  <button type="button" class="icon-button share-button" aria-label={`Share ${it.name}`} onClick={() => setDialog({ kind: 'share', entry: it })}><ShareIcon /></button>
                  <RowMenu entry={it} onAction={(a) => setDialog({ kind: a, entry: it })} />
                </td>
                <td class="col-size">{formatSize(it.size)}</td>
                <td class="col-mtime" title={new Date(it.mtime * 1000).toLocaleString()}>{formatDate(it.mtime)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <td colSpan={2} class="summary">{fileCount} {fileCount === 1 ? 'file' : 'files'} and {folders} {folders === 1 ? 'folder' : 'folders'}</td>
              <td class="col-size">{formatSize(totalSize)}</td>
              <td class="col-mtime" />
            </tr>
          </tfoot>
        </table>
      )}
      {listing && (
        <p class="quota">
          {formatSize(listing.quota.used)} used{listing.quota.total !== null ? ` of ${formatSize(listing.quota.total)}` : ''}
        </p>
      )}
      {dialog?.kind === 'mkdir' && (
        <NameDialog title="New folder" label="Folder name" initial="New folder" submit="Create" onClose={() => setDialog(null)}
          onSubmit={async (name) => { await api('files/mkdir', { method: 'POST', body: { path: join(dir, name) } }); toast(`Created folder “${name}”`); load(); }} />
      )}
      {dialog?.kind === 'rename' && dialog.entry && (
        <NameDialog title={`Rename “${dialog.entry.name}”`} label="New name" initial={dialog.entry.name} submit="Rename" onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            await api('files/move', { method: 'POST', body: { from: dialog.entry!.path, to: join(dir, name), overwrite: false } });
            toast(`Renamed to “${name}”`); load();
          }} />
      )}
      {dialog?.kind === 'move' && dialog.entry && <MoveDialog entry={dialog.entry} onDone={load} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'delete' && dialog.entry && <DeleteDialog entry={dialog.entry} onDone={load} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'versions' && dialog.entry && <VersionsPanel entry={dialog.entry} onChanged={load} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'share' && dialog.entry && <ShareDialog entry={dialog.entry} onClose={() => { setDialog(null); load(); }} />}
    </section>
  );
}


