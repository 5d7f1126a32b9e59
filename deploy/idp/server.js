// The local stack's OpenID Connect provider: an issuer per partner and one for the hub, each
// on its own port, sharing one PostgreSQL pool.
//   node deploy/idp/server.js --config run/<stack>/idp/config.json

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import pg from 'pg';

import { accountsOf } from './accounts.js';
import { removeExpired } from './adapter.js';
import { loadOrCreateJwks } from './keys.js';
import { SECURITY_HEADERS, loginPage, messagePage } from './pages.js';
import { buildProvider } from './provider.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FORM_LIMIT_BYTES = 16 * 1024;
const SWEEP_SECONDS = 600;
// How long a stopping provider waits for the requests it has begun (deploy/stack.py waits longer).
const STOP_SECONDS = 5;

// The responses under way, and whether the provider is stopping: from then on a response closes
// its connection once it is sent.
const responses = new Set();
let stopping = false;

function logger(name) {
  return (message) => console.log(`${new Date().toISOString()} idp ${name} ${message}`);
}

function send(res, status, contentType, body, headers = {}) {
  res.writeHead(status, { 'content-type': contentType, ...headers });
  res.end(body);
}

function sendHtml(res, status, html) {
  send(res, status, 'text/html; charset=utf-8', html, SECURITY_HEADERS);
}

async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > FORM_LIMIT_BYTES) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// The sign-in page of an interaction; the grant itself is made by loadExistingGrant.
async function interaction(req, res, { provider, accounts, issuer, log }) {
  const url = new URL(req.url, issuer.issuer);
  const match = url.pathname.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!match) return sendHtml(res, 404, messagePage({ organisation: issuer.title, title: 'Page not found', message: 'Check the address and try again.' }));
  const [, uid, login] = match;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return sendHtml(res, 400, messagePage({
      organisation: issuer.title,
      title: 'Your sign-in has expired',
      message: 'Go back to Peerlink and sign in again.',
    }));
  }
  if (details.uid !== uid) return sendHtml(res, 400, messagePage({ organisation: issuer.title, title: 'Your sign-in has expired', message: 'Go back to Peerlink and sign in again.' }));
  const action = `/interaction/${uid}/login`;
  if (details.prompt.name !== 'login') {
    // nothing to ask a person: the client is first-party (see loadExistingGrant)
    return provider.interactionFinished(req, res, {}, { mergeWithLastSubmission: true });
  }
  if (req.method === 'GET' && !login) {
    return sendHtml(res, 200, loginPage({ organisation: issuer.title, action }));
  }
  if (req.method !== 'POST' || !login) return send(res, 405, 'text/plain', 'method not allowed\n');
  const form = await readForm(req);
  const username = (form.get('username') ?? '').trim();
  const account = await accounts.authenticate(username, form.get('password') ?? '');
  if (!account) {
    log(`sign-in refused for ${JSON.stringify(username)}`);
    return sendHtml(res, 200, loginPage({ organisation: issuer.title, action, username, failed: true }));
  }
  log(`signed in ${account.username} (client ${details.params.client_id})`);
  return provider.interactionFinished(
    req,
    res,
    { login: { accountId: account.username } },
    { mergeWithLastSubmission: false },
  );
}

async function health(res, pool, issuer) {
  try {
    await pool.query('SELECT 1');
    send(res, 200, 'application/json', JSON.stringify({ status: 'ok', issuer: issuer.issuer }));
  } catch (error) {
    send(res, 503, 'application/json', JSON.stringify({ status: 'database unavailable', issuer: issuer.issuer }));
  }
}

function serve(issuer, context) {
  const callback = context.provider.callback();
  const server = createServer((req, res) => {
    responses.add(res);
    res.on('close', () => responses.delete(res));
    if (stopping) res.shouldKeepAlive = false;
    const path = req.url.split('?', 1)[0];
    const handled = path === '/health'
      ? health(res, context.pool, issuer)
      : path.startsWith('/interaction/')
        ? interaction(req, res, context)
        : callback(req, res);
    Promise.resolve(handled).catch((error) => {
      context.log(`server error: ${error.stack}`);
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(issuer.port, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  if (!values.config) {
    console.error('usage: node deploy/idp/server.js --config run/<stack>/idp/config.json');
    process.exit(2);
  }
  const config = JSON.parse(readFileSync(values.config, 'utf8'));
  const pool = new pg.Pool({ connectionString: config.database_url, max: 10 });
  pool.on('error', (error) => console.log(`idp database: ${error.message}`));
  await pool.query(readFileSync(join(HERE, 'schema.sql'), 'utf8'));

  const servers = [];
  for (const issuer of config.issuers) {
    const log = logger(issuer.name);
    const { jwks, created } = loadOrCreateJwks(issuer.jwks_file);
    if (created) log(`made a signing key ${jwks.keys[0].kid}`);
    const accounts = accountsOf(pool, issuer.name);
    const provider = buildProvider({ issuer, pool, accounts, cookieKeys: config.cookie_keys, jwks, log });
    servers.push(await serve(issuer, { provider, accounts, issuer, pool, log }));
    log(`issuer ${issuer.issuer} (audience ${issuer.audience})`);
  }

  const sweep = setInterval(() => removeExpired(pool).catch(() => {}), SWEEP_SECONDS * 1000);
  // No new connection; a keep-alive connection waiting for a next request is closed, a request
  // begun is answered and then its connection closed; what is left after STOP_SECONDS is cut off.
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`idp stopping (${signal})`);
    clearInterval(sweep);
    for (const res of responses) if (!res.headersSent) res.shouldKeepAlive = false;
    const closeIdle = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 20);
    const cutOff = setTimeout(
      () => servers.forEach((s) => s.closeAllConnections()),
      STOP_SECONDS * 1000,
    );
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    clearInterval(closeIdle);
    clearTimeout(cutOff);
    await pool.end();
    console.log('idp stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error) => {
  console.error(`idp failed to start: ${error.stack}`);
  process.exit(1);
});
