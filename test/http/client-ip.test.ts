import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { clientIp } from '../../src/http/server.ts';

const req = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

test('X-Forwarded-For is ignored from untrusted peers', () => {
  assert.equal(clientIp(req('203.0.113.9', '1.2.3.4'), ['127.0.0.1']), '203.0.113.9');
});

test('behind a trusted proxy the right-most untrusted hop counts, so a client cannot choose its address', () => {
  // the client sent "X-Forwarded-For: 6.6.6.6"; nginx appended the real address 198.51.100.7
  assert.equal(clientIp(req('127.0.0.1', '6.6.6.6, 198.51.100.7'), ['127.0.0.1']), '198.51.100.7');
  assert.equal(clientIp(req('127.0.0.1', '198.51.100.7, 10.0.0.2'), ['127.0.0.1', '10.0.0.2']), '198.51.100.7');
  assert.equal(clientIp(req('127.0.0.1'), ['127.0.0.1']), '127.0.0.1');
});
