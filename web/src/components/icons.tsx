/** Small inline SVG icons (no icon font, nothing external). */
const P = { width: 20, height: 20, viewBox: '0 0 24 24', 'aria-hidden': 'true' as const, focusable: 'false' as const };

export const FolderIcon = () => (
  <svg {...P} class="icon folder"><path fill="currentColor" d="M10 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-8z" /></svg>
);
export const FileIcon = () => (
  <svg {...P} class="icon file"><path fill="currentColor" d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm-1 7V3.5L18.5 9z" /></svg>
);
export const HomeIcon = () => (
  <svg {...P}><path fill="currentColor" d="M10 20v-6h4v6h5v-8h3L12 3 2 12h3v8z" /></svg>
);
export const UploadIcon = () => (
  <svg {...P}><path fill="currentColor" d="M9 16h6v-6h4l-7-7-7 7h4zm-4 2h14v2H5z" /></svg>
);
export const PlusIcon = () => (
  <svg {...P}><path fill="currentColor" d="M19 13h-6v6h-2v-6H5v-2h6V5h2v6h6z" /></svg>
);
export const DotsIcon = () => (
  <svg {...P}><path fill="currentColor" d="M12 8a2 2 0 1 0 0-4 2 2 0 0 0 0 4zm0 2a2 2 0 1 0 0 4 2 2 0 0 0 0-4zm0 6a2 2 0 1 0 0 4 2 2 0 0 0 0-4z" /></svg>
);
export const ShareIcon = () => (
  <svg {...P}><path fill="currentColor" d="M18 16.1c-.8 0-1.4.3-2 .8l-7.1-4.2c.1-.2.1-.5.1-.7s0-.5-.1-.7L16 7.2c.5.5 1.2.8 2 .8a3 3 0 1 0-3-3c0 .2 0 .5.1.7L8 9.8C7.5 9.3 6.8 9 6 9a3 3 0 1 0 0 6c.8 0 1.5-.3 2-.8l7.1 4.2c-.1.2-.1.4-.1.6a2.9 2.9 0 1 0 3-2.9z" /></svg>
);
export const LockIcon = () => (
  <svg {...P}><path fill="currentColor" d="M18 8h-1V6A5 5 0 0 0 7 6v2H6a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V10a2 2 0 0 0-2-2zm-6 9a2 2 0 1 1 0-4 2 2 0 0 1 0 4zm3.1-9H8.9V6a3.1 3.1 0 0 1 6.2 0z" /></svg>
);
export const Logo = () => (
  <svg width="28" height="28" viewBox="0 0 64 64" aria-hidden="true" focusable="false">
    <rect width="64" height="64" rx="14" fill="#fff" />
    <path d="M18 28a14 14 0 0 1 28 0v2h2a4 4 0 0 1 4 4v16a4 4 0 0 1-4 4H16a4 4 0 0 1-4-4V34a4 4 0 0 1 4-4h2z" fill="#0b6fa4" />
    <path d="M24 30v-2a8 8 0 0 1 16 0v2z" fill="#fff" /><circle cx="32" cy="41" r="4" fill="#fff" />
  </svg>
);
export const TrashIcon = () => (
  <svg {...P}><path fill="currentColor" d="M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z" /></svg>
);
export const RestoreIcon = () => (
  <svg {...P}><path fill="currentColor" d="M13 3a9 9 0 0 0-9 9H1l3.9 3.9L9 12H6a7 7 0 1 1 2.05 4.95l-1.42 1.42A9 9 0 1 0 13 3z" /></svg>
);
