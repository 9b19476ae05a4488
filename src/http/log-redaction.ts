/**
 * Request paths that carry a secret in a segment: a public link's token (`/s/<token>`, which is
 * the whole credential of a link without a password) and a Login Flow v2 login token
 * (`/login/v2/flow/<token>`). Both with or without `/index.php`.
 */
const SECRET_SEGMENTS = /^((?:\/index\.php)?\/(?:s|login\/v2\/flow)\/)[^/]+/;

/** The path as the request log may show it: secret segments replaced by `[redacted]`. */
export function loggablePath(rawPath: string): string {
  return rawPath.replace(SECRET_SEGMENTS, '$1[redacted]');
}
