/**
 * The server side of bench/push-idle.ts, in its own process so that its RSS is the server's alone:
 * a test instance with one user and an app password; sends `{ port, token }` to the parent, then
 * answers each `measure` message with its memory after a settle (gc, when run with --expose-gc)
 * and its count of authenticated push connections.
 */
import { queryObjects } from 'node:v8';
import { Socket } from 'node:net';
import { IncomingMessage } from 'node:http';
import { startTestInstance } from '../test/support/test-instance.ts';

const inst = await startTestInstance({ push: { perUserConnections: 100_000 } });
await inst.addUser('idle', 'idle-password-123');
const token = (await inst.app.appPasswords.create('idle', 'bench')).token;
const settle = async () => { for (let i = 0; i < 3; i++) { global.gc?.(); await new Promise((r) => setTimeout(r, 300)); } };
const count = (ctor: new (...a: never[]) => unknown) => queryObjects(ctor as never, { format: 'count' }) as number;

process.on('message', (m: string) => {
  if (m === 'measure') {
    void settle().then(() => {
      const mem = process.memoryUsage();
      process.send!({ ...mem, connections: inst.server.push.connections, sockets: count(Socket), requests: count(IncomingMessage) });
    });
  } else if (m === 'stop') {
    void inst.stop().then(() => process.exit(0));
  }
});
process.send!({ port: inst.server.port, token });
