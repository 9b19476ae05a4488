import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { ForbiddenError, ValidationError } from '../../src/errors.ts';
import { BadGatewayError, decodeRelPath, href, resolveDestination, resolveFilesTarget } from '../../src/dav/dav-target.ts';

const fakeReq = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('dav target', () => {
  it('decodes per segment, keeps +, normalises to NFC, drops empty segments', () => {
    assert.equal(decodeRelPath('/a%20b/c+d/%e2%82%ac/'), 'a b/c+d/€');
    assert.equal(decodeRelPath('//x///y'), 'x/y');
    assert.equal(decodeRelPath('/e\u0301'), '\u00e9');
    assert.equal(decodeRelPath('/a;b&c'), 'a;b&c');
  });

  for (const bad of ['/../x', '/a/..', '/%2e%2e/x', '/%2E%2e', '/a/.', '/a%2Fb', '/a%2fb', '/a%5Cb', '/a%00b', '/a%zzb', '/a%e2%82']) {
    it(`rejects ${bad}`, () => assert.throws(() => decodeRelPath(bad), ValidationError));
  }

  it('builds hrefs percent-encoded per segment with a trailing slash on collections', () => {
    const t = { hrefBase: '/remote.php/dav/files/alice' };
    assert.equal(href(t, '', true), '/remote.php/dav/files/alice/');
    assert.equal(href(t, 'a b/c+d#?', false), '/remote.php/dav/files/alice/a%20b/c%2Bd%23%3F');
    assert.equal(href(t, 'dir/€', true), '/remote.php/dav/files/alice/dir/%E2%82%AC/');
    assert.equal(decodeRelPath(href(t, "x y/it's (1)*", false).slice(t.hrefBase.length)), "x y/it's (1)*");
  });

  it('resolves files and webdav paths for the authenticated user only', () => {
    assert.deepEqual(resolveFilesTarget('/remote.php/dav/files/alice/a/b', 'alice'),
      { uid: 'alice', hrefBase: '/remote.php/dav/files/alice', path: 'a/b' });
    assert.deepEqual(resolveFilesTarget('/remote.php/webdav/a', 'alice'), { uid: 'alice', hrefBase: '/remote.php/webdav', path: 'a' });
    assert.deepEqual(resolveFilesTarget('/remote.php/dav/files/alice', 'alice')?.path, '');
    assert.throws(() => resolveFilesTarget('/remote.php/dav/files/bob/a', 'alice'), ForbiddenError);
    assert.throws(() => resolveFilesTarget('/remote.php/dav/files/alice/../bob', 'alice'), ValidationError);
    assert.equal(resolveFilesTarget('/remote.php/dav/files/', 'alice'), undefined);
    assert.equal(resolveFilesTarget('/remote.php/dav/uploads/alice/x', 'alice'), undefined);
  });

  it('resolves Destination as an absolute URL or a bare path on this host', () => {
    const host = '127.0.0.1:8080';
    assert.equal(resolveDestination(fakeReq({ host, destination: 'http://127.0.0.1:8080/remote.php/dav/files/alice/n%20m' }), 'alice').path, 'n m');
    assert.equal(resolveDestination(fakeReq({ host, destination: '/remote.php/dav/files/alice/x?y#z' }), 'alice').path, 'x');
    assert.equal(resolveDestination(fakeReq({ host: 'h', destination: 'http://h:80/remote.php/webdav/q' }), 'alice').path, 'q');
    assert.throws(() => resolveDestination(fakeReq({ host, destination: 'http://evil.example/remote.php/dav/files/alice/x' }), 'alice'), BadGatewayError);
    assert.throws(() => resolveDestination(fakeReq({ host, destination: '/remote.php/dav/files/bob/x' }), 'alice'), ForbiddenError);
    assert.throws(() => resolveDestination(fakeReq({ host, destination: '/etc/passwd' }), 'alice'), ValidationError);
    assert.throws(() => resolveDestination(fakeReq({ host, destination: 'x' }), 'alice'), ValidationError);
    assert.throws(() => resolveDestination(fakeReq({ host }), 'alice'), ValidationError);
    assert.throws(() => resolveDestination(fakeReq({ host, destination: '/remote.php/dav/files/alice/%2e%2e/bob' }), 'alice'), ValidationError);
  });
});
