#!/usr/bin/env node
// A fake OpenAI-compatible Chat Completions server on Node's own http2 and
// http modules (no npm packages), for keyrota's TLS/HTTP/2 test and for
// the benchmarks, where the Python fake would be the bottleneck.
//
//   node h2.mjs --port-file FILE [--port N] [--tls-cert PEM --tls-key PEM]
//               [--delay-ms N]
//
// With --tls-cert/--tls-key it speaks TLS and offers HTTP/2 and HTTP/1.1
// by ALPN; without, plain HTTP/1.1 with keep-alive. Listens on 127.0.0.1
// only. POST /v1/chat/completions answers, after delay_ms, the same success
// completion as the Python fake's "success" scenario. It counts what it
// saw, returned by GET /__stats:
//   tcp_connections   TCP connections accepted
//   tls_sessions      TLS handshakes completed
//   tls_errors        TLS handshakes that failed (e.g. an untrusted cert)
//   h2_sessions       HTTP/2 sessions
//   max_open_connections  the most TCP connections open at once
//   requests          completion requests, by HTTP version in by_version
//   completed         completion responses fully sent
//   max_streams_per_session  the most concurrent streams on one session
// POST /__reset zeroes the counts; POST /__control {"delay_ms": N}.
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

let delayMs = Number(args['delay-ms'] || 0);
let calls = 0;
let stats;
function reset() {
  stats = {
    tcp_connections: 0, tls_sessions: 0, tls_errors: 0, h2_sessions: 0,
    open_connections: 0, max_open_connections: 0, requests: 0, completed: 0,
    by_version: {}, max_streams_per_session: 0,
  };
}
reset();

const ANSWER = { decision: 'eligible', rotation_window_days: 30, source_line_ids: ['P-7'] };

function completion() {
  calls += 1;
  return {
    id: 'chatcmpl-fake-' + calls,
    object: 'chat.completion',
    model: 'fake-model-1',
    choices: [{ index: 0, message: { role: 'assistant', content: JSON.stringify(ANSWER),
      refusal: null }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 321, completion_tokens: 17, total_tokens: 338 },
  };
}

function sendJson(res, status, obj) {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

function readBody(req, cb) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= 1 << 20) chunks.push(c); });
  req.on('end', () => cb(Buffer.concat(chunks)));
}

function handle(req, res) {
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/__stats') {
    const { open_connections, ...out } = stats;
    return sendJson(res, 200, out);
  }
  if (req.method === 'POST' && path === '/__reset')
    return readBody(req, () => { reset(); sendJson(res, 200, {}); });
  if (req.method === 'POST' && path === '/__control') {
    return readBody(req, (b) => {
      try {
        const o = JSON.parse(b.toString() || '{}');
        if (typeof o.delay_ms === 'number') delayMs = o.delay_ms;
        sendJson(res, 200, { delay_ms: delayMs });
      } catch (e) {
        sendJson(res, 400, { error: { message: 'bad control object' } });
      }
    });
  }
  if (req.method === 'POST' && path === '/v1/chat/completions') {
    stats.requests += 1;
    const v = req.httpVersion;
    stats.by_version[v] = (stats.by_version[v] || 0) + 1;
    const session = req.stream && req.stream.session;
    if (session) {
      session.kr_open = (session.kr_open || 0) + 1;
      if (session.kr_open > stats.max_streams_per_session)
        stats.max_streams_per_session = session.kr_open;
      res.on('close', () => { session.kr_open -= 1; });
    }
    return readBody(req, () => {
      setTimeout(() => {
        res.on('finish', () => { stats.completed += 1; });
        sendJson(res, 200, completion());
      }, delayMs);
    });
  }
  return sendJson(res, 404, { error: { message: 'not found' } });
}

function countConnection(socket) {
  stats.tcp_connections += 1;
  stats.open_connections += 1;
  if (stats.open_connections > stats.max_open_connections)
    stats.max_open_connections = stats.open_connections;
  socket.on('close', () => { stats.open_connections -= 1; });
}

let server;
if (args['tls-cert']) {
  server = http2.createSecureServer({
    cert: fs.readFileSync(args['tls-cert']),
    key: fs.readFileSync(args['tls-key']),
    allowHTTP1: true,
    settings: { maxConcurrentStreams: 1000 },
  }, handle);
  server.on('secureConnection', () => { stats.tls_sessions += 1; });
  server.on('tlsClientError', () => { stats.tls_errors += 1; });
  server.on('session', () => { stats.h2_sessions += 1; });
} else {
  server = http.createServer({ keepAliveTimeout: 60000 }, handle);
  server.keepAliveTimeout = 60000;
  server.headersTimeout = 65000;
  server.maxRequestsPerSocket = 0;
}
server.on('connection', countConnection);
server.maxConnections = 20000;
server.listen(Number(args.port || 0), '127.0.0.1', 4096, () => {
  const port = server.address().port;
  if (args['port-file']) {
    fs.writeFileSync(args['port-file'] + '.tmp', String(port));
    fs.renameSync(args['port-file'] + '.tmp', args['port-file']);
  } else {
    process.stdout.write(port + '\n');
  }
});
for (const sig of ['SIGTERM', 'SIGINT'])
  process.on(sig, () => process.exit(0));
