import { useEffect, useState } from 'preact/hooks';

interface Toast { id: number; text: string; kind: 'info' | 'error' }
let seq = 0;
const listeners = new Set<(t: Toast[]) => void>();
let toasts: Toast[] = [];

function emit() { for (const l of listeners) l(toasts); }

/** Shows a short message at the bottom of the screen. */
export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const t = { id: ++seq, text, kind };
  toasts = [...toasts, t].slice(-3);
  emit();
  setTimeout(() => { toasts = toasts.filter((x) => x.id !== t.id); emit(); }, kind === 'error' ? 7000 : 3500);
}

export function errorToast(err: unknown): void {
  toast(err instanceof Error ? err.message : String(err), 'error');
}

export function Toasts() {
  const [list, setList] = useState<Toast[]>(toasts);
  useEffect(() => { listeners.add(setList); return () => { listeners.delete(setList); }; }, []);
  return (
    <div class="toasts" aria-live="polite">
      {list.map((t) => <div key={t.id} class={`toast ${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>{t.text}</div>)}
    </div>
  );
}
