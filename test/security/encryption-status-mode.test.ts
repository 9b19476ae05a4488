/**
 * `./occ encryption:status` said "masterkey" in per-user-key mode. Real ./occ
 * processes against a real instance.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestInstance, type TestInstance } from '../support/test-instance.ts';
import { occ } from '../cli/occ-harness.ts';

describe('encryption:status reports the key mode', { timeout: 120_000 }, () => {
  let t: TestInstance;
  before(async () => { t = await startTestInstance(); });
  after(async () => { await t?.stop(); });

  const run = async (args: string[]) => {
    const r = await occ(args, { COFFER_CONFIG: t.configPath });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  test('masterkey by default, per-user-keys after encryption:disable-master-key, and back', async () => {
    await run(['app:enable', 'encryption']);
    await run(['encryption:enable']);
    assert.equal(JSON.parse(await run(['encryption:status', '--output=json'])).mode, 'masterkey');
    await run(['encryption:disable-master-key', '-n']);
    assert.equal(JSON.parse(await run(['encryption:status', '--output=json'])).mode, 'per-user-keys');
    assert.match(await run(['encryption:status']), /mode: per-user-keys/);
    await run(['encryption:enable-master-key', '-n']);
    assert.equal(JSON.parse(await run(['encryption:status', '--output=json'])).mode, 'masterkey');
  });
});
