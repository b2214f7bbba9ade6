// A real DNS server for the browser tests' Verified domains: the `dns2` package answering
// over UDP and TCP on 127.0.0.1:$DNS_PORT, authoritative for every name: the TXT records a
// test published, and NXDOMAIN for anything else. Gatehouse reaches it with --dns-server.
//
// A test publishes records the way an Owner would at their DNS host, through a small HTTP
// control on 127.0.0.1:$CONTROL_PORT:
//   PUT /txt  {"name": "_gatehouse-challenge-3.example.com", "values": ["gatehouse-…"]}
//   GET /healthz

import http from 'node:http';
import dns2 from 'dns2';

const { Packet } = dns2;
const dnsPort = Number(process.env.DNS_PORT ?? 3110);
const controlPort = Number(process.env.CONTROL_PORT ?? 3111);
const records = new Map();
const key = (name) => String(name).toLowerCase().replace(/\.$/, '');

const server = dns2.createServer({
  udp: true,
  tcp: true,
  handle: (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const [question] = request.questions;
    const values = question ? records.get(key(question.name)) : undefined;
    if (!values || values.length === 0) {
      response.header.rcode = Packet.RCODE.NXDOMAIN;
    } else if (question.type === Packet.TYPE.TXT) {
      for (const value of values) {
        response.answers.push({
          name: question.name,
          type: Packet.TYPE.TXT,
          class: Packet.CLASS.IN,
          ttl: 0,
          data: value,
        });
      }
    }
    send(response);
  },
});
server.listen({
  udp: { port: dnsPort, address: '127.0.0.1' },
  tcp: { port: dnsPort, address: '127.0.0.1' },
});

http
  .createServer(async (req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.end('ok');
      return;
    }
    if (req.method === 'PUT' && req.url === '/txt') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      try {
        const { name, values } = JSON.parse(raw);
        records.set(key(name), values);
        res.end('published');
      } catch (err) {
        res.statusCode = 400;
        res.end(`bad record: ${err.message}`);
      }
      return;
    }
    res.statusCode = 404;
    res.end();
  })
  .listen(controlPort, '127.0.0.1');

process.on('SIGTERM', () => process.exit(0));
