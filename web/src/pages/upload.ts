import { api, putWithProgress } from '../api.ts';

/** Files bigger than this go up in chunks. */
export const CHUNK_THRESHOLD = 10 * 1024 * 1024;
/** Size of one chunk. */
export const CHUNK_SIZE = 8 * 1024 * 1024;

export interface UploadProgress { total: number; loaded: number; current: string; count: number; index: number }

/** Uploads one file to `path` (the user's tree): one PUT, or chunks for big files. @throws ApiError */
export async function uploadFile(path: string, file: File, onProgress: (loaded: number) => void): Promise<void> {
  const mtime = Math.floor(file.lastModified / 1000);
  if (file.size <= CHUNK_THRESHOLD) {
    await putWithProgress(`/web/api/files/upload?path=${encodeURIComponent(path)}&mtime=${mtime}`, file, onProgress);
    return;
  }
  const { id } = await api<{ id: string }>('files/chunked', { method: 'POST', body: { path, size: file.size } });
  try {
    let index = 1;
    for (let off = 0; off < file.size; off += CHUNK_SIZE, index++) {
      const part = file.slice(off, Math.min(file.size, off + CHUNK_SIZE));
      await putWithProgress(`/web/api/files/chunked/${encodeURIComponent(id)}/${String(index).padStart(5, '0')}?offset=${off}`, part, (l) => onProgress(off + l));
    }
    await api('files/chunked/' + encodeURIComponent(id) + '/finish', { method: 'POST', body: { path, mtime } });
  } catch (e) {
    await api('files/chunked/' + encodeURIComponent(id), { method: 'DELETE' }).catch(() => {});
    throw e;
  }
}
