import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, setCsrfToken, getCsrfToken, type SessionUser } from './api.ts';
import { Logo } from './components/icons.tsx';
import { Toasts } from './components/toast.tsx';
import { useMenu } from './components/menu.ts';
import { linkClick, useLocation } from './router.ts';
import { FilesPage } from './pages/files.tsx';
import { DeletedFilesPage, TRASH_URL } from './pages/deleted-files.tsx';
import { AppsPage } from './pages/apps.tsx';
import { SecurityPage } from './pages/security.tsx';
import { UsersPage } from './pages/users.tsx';
import { PersonalPage } from './pages/personal.tsx';
import './styles.css';

function UserMenu({ user }: { user: SessionUser }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useMenu(ref, open, setOpen);
  const go = (e: MouseEvent, to: string) => { setOpen(false); linkClick(e, to); };
  return (
    <div class="user-menu" ref={ref}>
      <button type="button" class="avatar-button" aria-label="User menu" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span class="avatar" aria-hidden="true">{(user.displayName || user.uid).slice(0, 1).toUpperCase()}</span>
      </button>
      {open && (
        <div class="menu" role="menu">
          <div class="menu-head"><strong>{user.displayName}</strong><span>{user.uid}</span></div>
          <a role="menuitem" href="/settings/user" onClick={(e) => go(e, '/settings/user')}>Personal settings</a>
          {user.isAdmin && <a role="menuitem" href="/settings/apps" onClick={(e) => go(e, '/settings/apps')}>Apps</a>}
          {user.isAdmin && <a role="menuitem" href="/settings/users" onClick={(e) => go(e, '/settings/users')}>Users</a>}
          {user.isAdmin && <a role="menuitem" href="/settings/admin/security" onClick={(e) => go(e, '/settings/admin/security')}>Security &amp; encryption</a>}
          <form method="post" action="/logout">
            <input type="hidden" name="requesttoken" value={getCsrfToken()} />
            <button type="submit" role="menuitem" class="menu-item-button">Log out</button>
          </form>
        </div>
      )}
    </div>
  );
}

function Header({ user, path }: { user: SessionUser; path: string }) {
  const inTrash = path.startsWith(TRASH_URL);
  const inFiles = !path.startsWith('/settings') && !inTrash;
  const inSettings = path.startsWith('/settings');
  return (
    <header class="topbar">
      <a class="logo" href="/apps/files" onClick={(e) => linkClick(e, '/apps/files')} aria-label="Coffer home"><Logo /><span>Coffer</span></a>
      <nav class="app-nav" aria-label="Apps">
        <a href="/apps/files" class={inFiles ? 'active' : ''} aria-current={inFiles ? 'page' : undefined} onClick={(e) => linkClick(e, '/apps/files')}>Files</a>
        <a href={TRASH_URL} class={inTrash ? 'active' : ''} aria-current={inTrash ? 'page' : undefined} onClick={(e) => linkClick(e, TRASH_URL)}>Deleted files</a>
        <a href="/settings/user" class={inSettings ? 'active' : ''} aria-current={inSettings ? 'page' : undefined} onClick={(e) => linkClick(e, '/settings/user')}>Settings</a>
      </nav>
      <UserMenu user={user} />
    </header>
  );
}

function SettingsNav({ user, path }: { user: SessionUser; path: string }) {
  const item = (to: string, label: string) => (
    <li><a href={to} class={path === to ? 'active' : ''} aria-current={path === to ? 'page' : undefined} onClick={(e) => linkClick(e, to)}>{label}</a></li>
  );
  return (
    <nav class="side-nav" aria-label="Settings">
      <h2>Personal</h2>
      <ul>{item('/settings/user', 'Personal info & security')}</ul>
      {user.isAdmin && <>
        <h2>Administration</h2>
        <ul>
          {item('/settings/apps', 'Apps')}
          {item('/settings/users', 'Users')}
          {item('/settings/admin/security', 'Security & encryption')}
        </ul>
      </>}
    </nav>
  );
}

function NotFound() {
  return <section class="page"><h1>Page not found</h1><p>There is nothing here.</p></section>;
}

function App() {
  const [user, setUser] = useState<SessionUser | null>(null);
  const [error, setError] = useState('');
  const { path, query } = useLocation();
  useEffect(() => {
    api<{ user: SessionUser; csrfToken: string }>('session')
      .then((s) => { setCsrfToken(s.csrfToken); setUser(s.user); })
      .catch((e) => setError(String(e.message ?? e)));
  }, []);
  useEffect(() => {
    const titles: Record<string, string> = {
      '/settings/apps': 'Apps', '/settings/users': 'Users', '/settings/admin/security': 'Security', '/settings/user': 'Personal settings',
    };
    document.title = `${titles[path] ?? (path.startsWith(TRASH_URL) ? 'Deleted files' : 'Files')} – Coffer`;
  }, [path]);
  if (error) return <p class="fatal" role="alert">Could not load Coffer: {error}</p>;
  if (!user) return <p class="loading">Loading…</p>;
  let content;
  const settings = path.startsWith('/settings');
  if (path.startsWith(TRASH_URL)) content = <DeletedFilesPage item={query.get('item') ?? ''} path={query.get('path') ?? ''} />;
  else if (!settings && (path === '/' || path === '/index.php' || path.startsWith('/apps/files'))) content = <FilesPage dir={query.get('dir') ?? '/'} />;
  else if (path === '/settings/user' || path === '/settings' || path === '/settings/') content = <PersonalPage user={user} />;
  else if (path === '/settings/apps') content = user.isAdmin ? <AppsPage /> : <NotFound />;
  else if (path === '/settings/users') content = user.isAdmin ? <UsersPage me={user} /> : <NotFound />;
  else if (path === '/settings/admin/security') content = user.isAdmin ? <SecurityPage /> : <NotFound />;
  else content = <NotFound />;
  return (
    <>
      <a class="skip-link" href="#main">Skip to content</a>
      <Header user={user} path={path} />
      <div class={`layout${settings ? ' with-side' : ''}`}>
        {settings && <SettingsNav user={user} path={path} />}
        <main id="main" tabIndex={-1}>{content}</main>
      </div>
      <Toasts />
    </>
  );
}

render(<App />, document.getElementById('app')!);
