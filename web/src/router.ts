import { useEffect, useState } from 'preact/hooks';

/** Navigates inside the single-page app. */
export function navigate(to: string): void {
  if (to === location.pathname + location.search) return;
  history.pushState(null, '', to);
  window.dispatchEvent(new Event('coffer:navigate'));
}

/** The current location (re-renders on navigation and back/forward). */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, tick] = useState(0);
  useEffect(() => {
    const on = () => tick((n) => n + 1);
    window.addEventListener('popstate', on);
    window.addEventListener('coffer:navigate', on);
    return () => { window.removeEventListener('popstate', on); window.removeEventListener('coffer:navigate', on); };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Click handler for in-app links (lets modified clicks open new tabs). */
export function linkClick(e: MouseEvent, to: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(to);
}
