import { readdirSync, readlinkSync, realpathSync } from 'node:fs';

/**
 * How many of this process's descriptors are open on files under `dir`. Counting only these (not
 * every entry of /proc/self/fd) keeps a leak check blind to descriptors that the runtime, the test
 * runner or an earlier test opens or closes meanwhile.
 */
export function openDescriptorsUnder(dir: string): number {
  const root = realpathSync(dir) + '/';
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) n++;
    } catch { /* closed between the listing and the read */ }
  }
  return n;
}
