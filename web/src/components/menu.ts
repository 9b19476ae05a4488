import type { RefObject } from 'preact';
import { useEffect } from 'preact/hooks';

/**
 * Menu-button behaviour: focus moves to the first item on open; ArrowUp/ArrowDown move between
 * items; Escape closes and returns focus to the button; a click outside closes.
 */
export function useMenu(container: RefObject<HTMLElement | null>, open: boolean, setOpen: (v: boolean) => void): void {
  useEffect(() => {
    if (!open) return;
    const root = container.current;
    const items = () => [...(root?.querySelectorAll<HTMLElement>('[role=menuitem]') ?? [])];
    items()[0]?.focus();
    const close = (e: Event) => { if (!root?.contains(e.target as Node)) setOpen(false); };
    const key = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        setOpen(false);
        root?.querySelector<HTMLElement>('[aria-haspopup=menu]')?.focus();
        return;
      }
      if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
      const list = items();
      if (list.length === 0) return;
      e.preventDefault();
      const i = list.indexOf(document.activeElement as HTMLElement);
      const next = e.key === 'ArrowDown' ? (i + 1) % list.length : (i - 1 + list.length) % list.length;
      list[next]!.focus();
    };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', key);
    return () => { document.removeEventListener('mousedown', close); document.removeEventListener('keydown', key); };
  }, [open]);
}
