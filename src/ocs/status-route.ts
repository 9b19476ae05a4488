import type { Handler } from '../http/context.ts';
import { instanceStatus } from '../setup/status.ts';

/** `GET /status.php`: Nextcloud's status object; works in maintenance mode (it reports it). */
export const statusHandler: Handler = async (req, res, ctx) => {
  req.resume();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.statusCode = 405;
    res.setHeader('Allow', 'GET, HEAD');
    res.end();
    return;
  }
  const body = JSON.stringify(await instanceStatus(ctx.app));
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.end(req.method === 'HEAD' ? undefined : body);
};
