/** The web UI's client for `/web/api/*` (session cookie + requesttoken header on writes). */

export interface SessionUser { uid: string; displayName: string; isAdmin: boolean }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

let csrfToken = '';
export function setCsrfToken(t: string): void { csrfToken = t; }
export function getCsrfToken(): string { return csrfToken; }

async function failure(res: Response): Promise<ApiError> {
  let code = 'error';
  let message = `${res.status} ${res.statusText}`;
  try {
    const j = await res.json();
    if (j?.error) { code = j.error.code ?? code; message = j.error.message ?? message; }
  } catch { /* not JSON */ }
  if (res.status === 401 && code === 'no-session') { window.location.href = `/login?redirect_url=${encodeURIComponent(location.pathname + location.search)}`; }
  return new ApiError(res.status, code, message);
}

/** Calls a JSON endpoint. @throws ApiError */
export async function api<T = any>(path: string, opts: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET') headers.requesttoken = csrfToken;
  let body: string | undefined;
  if (opts.body !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(opts.body); }
  const res = await fetch(`/web/api/${path}`, { method, headers, body, credentials: 'same-origin' });
  if (!res.ok) throw await failure(res);
  return res.json() as Promise<T>;
}

/** Calls an endpoint that answers with a file; returns it as a Blob. @throws ApiError */
export async function apiBlob(path: string, body: unknown): Promise<{ blob: Blob; filename: string }> {
  const res = await fetch(`/web/api/${path}`, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', requesttoken: csrfToken }, body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  const cd = res.headers.get('Content-Disposition') ?? '';
  const m = /filename="([^"]+)"/.exec(cd);
  return { blob: await res.blob(), filename: m?.[1] ?? 'download' };
}

/** Saves a Blob through a temporary link. */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** PUT with upload progress (XHR: fetch has no upload progress). @throws ApiError */
export function putWithProgress(url: string, body: Blob, onProgress: (loaded: number) => void): Promise<any> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    xhr.setRequestHeader('requesttoken', csrfToken);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try { resolve(JSON.parse(xhr.responseText)); } catch { resolve({}); }
        return;
      }
      let msg = `Upload failed (${xhr.status})`;
      let code = 'error';
      try { const j = JSON.parse(xhr.responseText); msg = j.error?.message ?? msg; code = j.error?.code ?? code; } catch { /* ignore */ }
      reject(new ApiError(xhr.status, code, msg));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'Network error during upload'));
    xhr.send(body);
  });
}

export function downloadUrl(path: string): string {
  return `/web/api/files/download?path=${encodeURIComponent(path)}`;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];
export function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[i]}`;
}

export function formatDate(sec: number | null | undefined): string {
  if (!sec) return '—';
  const d = new Date(sec * 1000);
  const diff = (Date.now() - d.getTime()) / 1000;
  if (diff >= -60 && diff < 60) return 'just now';
  if (diff > 0 && diff < 3600) return `${Math.floor(diff / 60)} min ago`;
  if (diff > 0 && diff < 86400) return `${Math.floor(diff / 3600)} h ago`;
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** A date with its time to the second (versions of one day must be told apart). */
export function formatDateTime(sec: number): string {
  return new Date(sec * 1000).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
