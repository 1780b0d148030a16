/**
 * A TCP proxy on 127.0.0.1 that can go half-open on demand: `freeze()` stops forwarding in both
 * directions on every connection open at that moment, without closing anything — as when a network
 * path dies and neither end hears of it. Connections made afterwards work normally.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Connections opened so far. */
  opened(): number;
  freeze(): void;
  close(): Promise<void>;
}

export async function startProxy(upstreamPort: number): Promise<TcpProxy> {
  const pairs: { client: net.Socket; upstream: net.Socket; frozen: boolean }[] = [];
  let opened = 0;
  const server = net.createServer((client) => {
    opened += 1;
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    const pair = { client, upstream, frozen: false };
    pairs.push(pair);
    // Forward by hand, so a frozen pair can stop reading (its kernel buffers then fill, and the
    // sender blocks) while both sockets stay open.
    client.on('data', (chunk) => { if (!pair.frozen) upstream.write(chunk); });
    upstream.on('data', (chunk) => { if (!pair.frozen) client.write(chunk); });
    const end = (): void => { if (!pair.frozen) { client.destroy(); upstream.destroy(); } };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    opened: () => opened,
    freeze() {
      for (const pair of pairs) {
        pair.frozen = true;
        pair.client.pause();
        pair.upstream.pause();
      }
    },
    async close() {
      for (const pair of pairs) { pair.client.destroy(); pair.upstream.destroy(); }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
