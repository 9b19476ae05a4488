import { COMPAT_VERSION, COMPAT_VERSION_STRING } from '../setup/version.ts';
import { PRE_AUTH_PATH } from '../push/pre-auth-route.ts';
import { PUSH_WS_PATH } from '../push/push-hub.ts';
import { ACTIVITY_CAPABILITY } from './activity-api.ts';
import { NOTIFICATIONS_CAPABILITY } from './notifications-api.ts';

/**
 * The `cloud/capabilities` data: the set the Nextcloud desktop client 3.7 needs (see the protocol
 * reference §1.2), and `dav.bulkupload` (POST /remote.php/dav/bulk, src/dav/bulk-upload.ts).
 * and `notify_push` (the push endpoint built into the server, src/push/; its URLs are this
 * request's public base URL, `baseUrl`). Deliberately absent: `files.locking` (no
 * Nextcloud-style file locking API).
 */
export function capabilities(baseUrl: string): Record<string, unknown> {
  return {
    version: {
      major: COMPAT_VERSION.major,
      minor: COMPAT_VERSION.minor,
      micro: COMPAT_VERSION.micro,
      string: COMPAT_VERSION_STRING,
      edition: '',
      extendedSupport: false,
    },
    capabilities: {
      core: {
        pollinterval: 60,
        'webdav-root': 'remote.php/webdav',
      },
      dav: {
        chunking: '1.0',
        bulkupload: '1.0',
      },
      files: {
        bigfilechunking: true,
        blacklisted_files: ['.htaccess'],
        // versions and the trash bin (issue #15): clients show their UI
        undelete: true,
        versioning: true,
        version_labeling: true,
        version_deletion: true,
      },
      checksums: {
        supportedTypes: ['SHA1'],
        preferredUploadType: 'SHA1',
      },
      // the notifications and activity APIs (src/ocs/notifications-api.ts, activity-api.ts), which push's
      // notify_notification and notify_activity make the desktop client fetch
      notifications: NOTIFICATIONS_CAPABILITY,
      activity: ACTIVITY_CAPABILITY,
      notify_push: {
        type: ['files', 'activities', 'notifications'],
        endpoints: {
          websocket: `${baseUrl.replace(/^http/, 'ws')}${PUSH_WS_PATH}`,
          pre_auth: `${baseUrl}${PRE_AUTH_PATH}`,
        },
      },
    },
  };
}
