import type { App } from '../app.ts';
import type { ShareWithNode } from '../sharing/share-repository.ts';
import { expirationDay } from '../sharing/share-input.ts';
import { SHARE_TYPE_GROUP, SHARE_TYPE_LINK, SHARE_TYPE_USER } from '../sharing/share-types.ts';

/** Shown instead of a link's password hash: clients only test it for non-emptiness. */
export const PASSWORD_PLACEHOLDER = '********';

/** Looks display names up once per request. */
export class DisplayNames {
  readonly #app: App;
  readonly #users = new Map<string, Promise<string>>();
  readonly #groups = new Map<string, Promise<string>>();
  constructor(app: App) { this.#app = app; }

  user(uid: string): Promise<string> {
    let p = this.#users.get(uid);
    if (!p) {
      p = this.#app.users.get(uid).then((u) => u.displayName, () => uid);
      this.#users.set(uid, p);
    }
    return p;
  }

  group(gid: string): Promise<string> {
    let p = this.#groups.get(gid);
    if (!p) {
      p = this.#app.groups.get(gid).then((g) => g.displayName, () => gid);
      this.#groups.set(gid, p);
    }
    return p;
  }
}

/**
 * Where the viewer sees a shared node: its path in the viewer's own tree, or below the mount of a
 * share they received ('/'-prefixed); the bare name when neither applies.
 */
async function viewerPath(app: App, viewer: string, sw: ShareWithNode): Promise<string> {
  const { node } = sw;
  if (viewer === node.owner) return '/' + node.path;
  for (const m of await app.shareResolver.mountsOf(viewer)) {
    if (m.owner !== node.owner) continue;
    if (node.path === m.node.path) return '/' + m.mountPoint;
    if (m.node.path === '' || node.path.startsWith(m.node.path + '/')) {
      return '/' + m.mountPoint + '/' + (m.node.path === '' ? node.path : node.path.slice(m.node.path.length + 1));
    }
  }
  return '/' + node.name;
}

/**
 * A share as Nextcloud's ShareAPIController::formatShare renders it (the fields clients read).
 * `baseUrl` makes link URLs.
 */
export async function formatShare(app: App, sw: ShareWithNode, viewer: string, baseUrl: string, names: DisplayNames): Promise<Record<string, unknown>> {
  const { share: s, node } = sw;
  const path = await viewerPath(app, viewer, sw);
  const isManager = viewer === s.initiator || viewer === s.owner;
  const out: Record<string, unknown> = {
    id: String(s.id),
    share_type: s.shareType,
    uid_owner: s.initiator,
    displayname_owner: await names.user(s.initiator),
    permissions: s.permissions,
    can_edit: isManager,
    can_delete: true,
    stime: s.stime,
    parent: null,
    expiration: s.expiration === null ? null : `${expirationDay(s.expiration)} 00:00:00`,
    token: s.token,
    uid_file_owner: s.owner,
    note: s.note,
    label: s.label,
    displayname_file_owner: await names.user(s.owner),
    path,
    item_type: s.itemType,
    mimetype: node.kind === 'dir' ? 'httpd/unix-directory' : node.mimetype,
    has_preview: false,
    storage_id: `home::${s.owner}`,
    storage: 1,
    item_source: node.fileId,
    file_source: node.fileId,
    file_parent: node.parentId,
    file_target: isManager ? '/' + s.fileTarget : path,
    item_size: node.size,
    item_mtime: node.mtime,
    share_with: null as string | null,
    share_with_displayname: null as string | null,
    mail_send: 0,
    hide_download: 0,
    attributes: null,
  };
  if (s.shareType === SHARE_TYPE_USER) {
    out.share_with = s.shareWith;
    out.share_with_displayname = await names.user(s.shareWith!);
    out.share_with_displayname_unique = s.shareWith;
  } else if (s.shareType === SHARE_TYPE_GROUP) {
    out.share_with = s.shareWith;
    out.share_with_displayname = await names.group(s.shareWith!);
  } else if (s.shareType === SHARE_TYPE_LINK) {
    out.url = `${baseUrl}/s/${s.token}`;
    out.share_with_displayname = '(Shared link)';
    if (s.hasPassword) {
      out.password = PASSWORD_PLACEHOLDER;
      out.share_with = PASSWORD_PLACEHOLDER;
    }
    out.send_password_by_talk = false;
  }
  return out;
}
