// A real OpenID Provider for Gatehouse's tests: the maintained `oidc-provider` package
// (discovery, authorization code with PKCE, token endpoint, JWKS), configured by the test
// through the OIDC_CONFIG environment variable (JSON):
//
//   { "port": 0,                                   // 0: any free port
//     "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
//     "accounts": { "<sub>": { "email", "email_verified", "name", "amr": ["pwd", "mfa"] } },
//     "faults": { "<sub>": { "aud": "x" | "expired": true | "nonce": "x" } } }
//
// Its own sign-in page (GET /interaction/<uid>) asks for a username; any account in
// `accounts` signs in. A "fault" re-signs that account's id token, with the provider's own
// key, after changing a claim: the relying party's validation must refuse it. Each start has
// a fresh signing key, so a restart on the same port is a key rotation.
//
// Prints one line, {"issuer": "http://127.0.0.1:<port>"}, when it is ready.

import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const config = JSON.parse(process.env.OIDC_CONFIG ?? '{}');
const accounts = config.accounts ?? {};
const faults = config.faults ?? {};

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const kid = `key-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
const privateJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((c) => ({
    ...c,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
  })),
  jwks: { keys: [privateJwk] },
  // acr and amr with every id token, as Entra ID and Keycloak send them.
  claims: {
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Email and name in the id token itself, as Okta, Entra ID, Google and Keycloak do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['gatehouse-test-cookie-key'] },
  findAccount: async (ctx, id) => {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      claims: async () => ({
        sub: id,
        email: account.email,
        email_verified: account.email_verified,
        name: account.name,
      }),
    };
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>Provider error</title><h1>${out.error}</h1><p>${out.error_description ?? ''}</p>`;
  },
});

// Faults: re-sign the id token of a faulty account after changing a claim.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body?.id_token) return;
  const claims = jose.decodeJwt(ctx.body.id_token);
  const fault = faults[claims.sub];
  if (!fault) return;
  if (fault.aud) claims.aud = fault.aud;
  if (fault.nonce) claims.nonce = fault.nonce;
  if (fault.expired) {
    claims.iat -= 7200;
    claims.exp = claims.iat + 60;
  }
  ctx.body.id_token = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid })
    .sign(privateKey);
});

const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

async function readForm(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

async function interaction(req, res) {
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (!match) return false;
  const uid = match[1];
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error('interaction mismatch');
    if (req.method === 'GET') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page('Test provider: sign in', `
        <h1>Test identity provider</h1>
        <form method="post" action="/interaction/${uid}/login">
          <label for="login">Username</label>
          <input id="login" name="login" autocomplete="off" autofocus>
          <button type="submit">Sign in at the provider</button>
        </form>`));
      return true;
    }
    const form = await readForm(req);
    const accountId = form.get('login');
    const account = accounts[accountId];
    if (!account) {
      res.statusCode = 400;
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page('Unknown user', '<p>No such user at the provider.</p>'));
      return true;
    }
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, {
      login: { accountId, amr: account.amr ?? ['pwd'], acr: account.acr },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  } catch (err) {
    res.statusCode = 400;
    res.end(`interaction failed: ${err.message}`);
  }
  return true;
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (await interaction(req, res)) return;
  callback(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.on('SIGTERM', () => process.exit(0));
