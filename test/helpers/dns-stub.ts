/**
 * A DNS server on 127.0.0.1 (UDP, port 0) that answers A queries for one name with a fixed list of
 * loopback addresses, AAAA with no records and anything else with NXDOMAIN. Enough for a gRPC
 * client's `dns://127.0.0.1:PORT/NAME:PORT` target (grpc-go resolves A/AAAA and looks up a TXT
 * service config) to see several replicas behind one name. Wire format per RFC 1035 section 4.
 */
import { createSocket } from "node:dgram";

const TYPE_A = 1;
const TYPE_AAAA = 28;

export interface DnsStub {
  /** `127.0.0.1:PORT`, the authority of a `dns://` target. */
  authority: string;
  /** A queries answered so far. */
  readonly queries: number;
  close(): Promise<void>;
}

function readName(msg: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = start;
  while (pos < msg.length && msg[pos]! > 0) {
    const len = msg[pos]!;
    labels.push(msg.subarray(pos + 1, pos + 1 + len).toString("latin1"));
    pos += 1 + len;
  }
  return { name: labels.join(".").toLowerCase(), end: pos + 1 };
}

export async function startDnsStub(name: string, addresses: string[]): Promise<DnsStub> {
  const socket = createSocket("udp4");
  let queries = 0;
  socket.on("message", (msg, peer) => {
    if (msg.length < 12) return;
    const { name: qname, end } = readName(msg, 12);
    if (end + 4 > msg.length) return;
    const qtype = msg.readUInt16BE(end);
    const question = msg.subarray(12, end + 4);
    const known = qname === name.toLowerCase();
    const answers: Buffer[] = [];
    if (known && qtype === TYPE_A) {
      queries++;
      for (const address of addresses) {
        const rr = Buffer.alloc(16);
        rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
        rr.writeUInt16BE(TYPE_A, 2);
        rr.writeUInt16BE(1, 4); // class IN
        rr.writeUInt32BE(1, 6); // TTL 1 s
        rr.writeUInt16BE(4, 10);
        address.split(".").forEach((octet, i) => {
          rr[12 + i] = Number(octet);
        });
        answers.push(rr);
      }
    }
    const rcode = known && (qtype === TYPE_A || qtype === TYPE_AAAA) ? 0 : 3;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    header.writeUInt16BE(0x8180 | rcode, 2); // response, recursion desired + available
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    socket.send(Buffer.concat([header, question, ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    authority: `127.0.0.1:${socket.address().port}`,
    get queries() {
      return queries;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
