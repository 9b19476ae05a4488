import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

let nextId = 0;

/** A modal dialog: labelled by its title, Escape closes, focus moves in and returns on close. */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; alert?: boolean; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const id = useRef(`dlg-${++nextId}`);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const el = ref.current;
    const first = el?.querySelector<HTMLElement>('[autofocus], input:not([type=hidden]):not([disabled]), select, textarea, button:not(.dialog-close)');
    (first ?? el)?.focus();
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') { e.stopPropagation(); props.onClose(); } };
    document.addEventListener('keydown', onKey);
    return () => { document.removeEventListener('keydown', onKey); before?.focus?.(); };
  }, []);
  return (
    <div class="dialog-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) props.onClose(); }}>
      <div ref={ref} class={`dialog${props.wide ? ' wide' : ''}`} role={props.alert ? 'alertdialog' : 'dialog'} aria-modal="true" aria-labelledby={id.current} tabIndex={-1}>
        <div class="dialog-head">
          <h2 id={id.current}>{props.title}</h2>
          <button type="button" class="icon-button dialog-close" aria-label="Close" onClick={props.onClose}>×</button>
        </div>
        <div class="dialog-body">{props.children}</div>
      </div>
    </div>
  );
}
