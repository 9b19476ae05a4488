import type { OcsCall } from './ocs-call.ts';
import { sendOcsData } from './ocs-response.ts';
import { SHARE_TYPE_GROUP, SHARE_TYPE_USER } from '../sharing/share-types.ts';

/** `/ocs/vN.php/apps/files_sharing/api/v1/sharees` */
export const SHAREES_PATH = 'apps/files_sharing/api/v1/sharees';

/**
 * `GET …/sharees?search=&itemType=&perPage=`: users and groups to share with, in Nextcloud's shape
 * (`exact` matches apart; each entry `{label, value: {shareType, shareWith}}`). The caller is left out;
 * matches are on ids and display names only (ShareeSearch: never on hidden email addresses).
 */
export async function searchSharees(call: OcsCall): Promise<void> {
  const me = await call.user();
  const p = await call.params();
  const app = call.ctx.app;
  const q = (p.get('search') ?? '').trim().toLowerCase();
  const perPage = Math.min(200, Math.max(1, Number(p.get('perPage') ?? '200') || 200));
  const types = p.getAll('shareType').map(Number);
  const want = (t: number) => types.length === 0 || types.includes(t);
  const { users, groups } = await app.sharees.find(me.uid, { search: q, limit: perPage, users: want(SHARE_TYPE_USER), groups: want(SHARE_TYPE_GROUP) });
  const u = (x: { uid: string; displayName: string }) => ({
    label: x.displayName, icon: 'icon-user', shareWithDisplayNameUnique: x.uid,
    value: { shareType: SHARE_TYPE_USER, shareWith: x.uid },
  });
  const g = (x: { gid: string; displayName: string }) => ({ label: x.displayName, value: { shareType: SHARE_TYPE_GROUP, shareWith: x.gid } });
  const exactU = users.filter((x) => x.uid.toLowerCase() === q || x.displayName.toLowerCase() === q);
  const exactG = groups.filter((x) => x.gid.toLowerCase() === q || x.displayName.toLowerCase() === q);
  sendOcsData(call.res, call.target, {
    exact: { users: exactU.map(u), groups: exactG.map(g), remotes: [], remote_groups: [], emails: [], circles: [], rooms: [], lookup: [] },
    users: users.filter((x) => !exactU.includes(x)).slice(0, perPage).map(u),
    groups: groups.filter((x) => !exactG.includes(x)).map(g),
    remotes: [], remote_groups: [], emails: [], circles: [], rooms: [], lookup: [], lookupEnabled: false,
  });
}
