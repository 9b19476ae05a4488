// Child of bench/push-idle.ts: opens N push connections (raw WebSocket handshake + login), reports
// "ready" once all are authenticated, then stays idle until killed.
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const [port, n, user, password] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4], process.argv[5]];
const frame = (text) => {
  const p = Buffer.from(text); const mask = randomBytes(4);
  const head = p.length < 126 ? Buffer.from([0x81, 0x80 | p.length]) : Buffer.from([0x81, 0x80 | 126, p.length >> 8, p.length & 0xff]);
  return Buffer.concat([head, mask, Buffer.from(p.map((b, i) => b ^ mask[i & 3]))]);
};
function open() {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(`GET /push/ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      s.write(Buffer.concat([frame(user), frame(password)]));
    });
    let got = '';
    const onData = (c) => { got += c.toString('latin1'); if (got.includes('authenticated')) { s.off('data', onData); s.on('data', () => {}); resolve(s); } else if (got.includes('err:')) reject(new Error(got)); };
    s.on('data', onData);
    s.on('error', reject);
  });
}
const sockets = [];
for (let i = 0; i < n; i += 50) {
  sockets.push(...await Promise.all(Array.from({ length: Math.min(50, n - i) }, open)));
}
process.send?.('ready');
setInterval(() => {}, 1 << 30);
