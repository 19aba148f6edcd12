/**
 * Free local ports for SSH forwards (TCP) and link endpoints (UDP), all on 127.0.0.1. The
 * kernel picks them (bind to port 0); the small window before QEMU binds them is acceptable
 * for a lab, and QEMU fails loudly if another program took one meanwhile.
 */
import dgram from 'node:dgram';
import net from 'node:net';

export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** `count` distinct free UDP ports, held open together so none is handed out twice. */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const socks = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<dgram.Socket>((resolve, reject) => {
          const s = dgram.createSocket('udp4');
          s.once('error', reject);
          s.bind(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}
