import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/**
 * A dashboard that never reads: completes the WebSocket handshake on `/ws` of `base`
 * (http://host:port) over raw TCP, then pauses its socket, so every byte the server sends
 * stays in buffers. The caller destroys it.
 */
export async function stalledWebSocket(base: string): Promise<Socket> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let head = '';
  while (!head.includes('\r\n\r\n')) head += String((await once(socket, 'data'))[0]);
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`WebSocket handshake refused: ${head.split('\r\n')[0]}`);
  socket.pause();
  return socket;
}
