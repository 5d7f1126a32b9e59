// One oidc-provider Provider per issuer: PostgreSQL storage, accounts from idp_accounts, JWT
// access tokens (RS256) per resource indicator, PKCE always, no consent screen.

import Provider, { errors, interactionPolicy } from 'oidc-provider';

import { pgAdapter } from './adapter.js';
import { logoutPage, messagePage, page, escape } from './pages.js';

const ACCESS_TOKEN_TTL_SECONDS = 3600;
const WORKDAY_SECONDS = 12 * 3600;
// the scope every Peerlink resource server knows; roles decide what a token may do
const API_SCOPE = 'peerlink';

const ASYMMETRIC = ['RS256', 'PS256', 'ES256'];

// Our settings that are not oidc-provider client metadata.
function clientMetadata({ roles, resources, ...metadata }) {
  return metadata;
}

// A session whose account has since been disabled or removed signs in again.
function interactionsPolicy() {
  const { Check, base } = interactionPolicy;
  const policy = base();
  policy.get('login').checks.add(new Check(
    'account_unavailable',
    'the account is disabled or removed',
    (ctx) => (ctx.oidc.session.accountId && !ctx.oidc.account
      ? Check.REQUEST_PROMPT
      : Check.NO_NEED_TO_PROMPT),
  ), 0);
  return policy;
}

export function buildProvider({ issuer, pool, accounts, cookieKeys, jwks, log }) {
  const clients = new Map(issuer.clients.map((c) => [c.client_id, c]));

  function resourcesFor(clientId) {
    return clients.get(clientId)?.resources ?? [issuer.audience];
  }

  const provider = new Provider(issuer.issuer, {
    adapter: pgAdapter(pool, issuer.name),
    clients: issuer.clients.map(clientMetadata),
    jwks,
    cookies: { keys: cookieKeys },
    findAccount: accounts.findAccount,
    claims: { openid: ['sub'], profile: ['name', 'roles'], email: ['email'] },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientBasedCORS: () => false,
    enabledJWA: {
      clientAuthSigningAlgValues: ASYMMETRIC,
      idTokenSigningAlgValues: ['RS256'],
      requestObjectSigningAlgValues: ASYMMETRIC,
      userinfoSigningAlgValues: ['RS256'],
      introspectionSigningAlgValues: ['RS256'],
      authorizationSigningAlgValues: ['RS256'],
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_SECONDS,
      ClientCredentials: ACCESS_TOKEN_TTL_SECONDS,
      AuthorizationCode: 60,
      IdToken: ACCESS_TOKEN_TTL_SECONDS,
      Interaction: 3600,
      Session: WORKDAY_SECONDS,
      Grant: WORKDAY_SECONDS,
      RefreshToken: WORKDAY_SECONDS,
    },
    interactions: {
      policy: interactionsPolicy(),
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage({ organisation: issuer.title, form });
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = messagePage({
            organisation: issuer.title,
            title: 'You have signed out',
            message: 'You have signed out of Peerlink. You can close this window.',
          });
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => {
          if (oneOf) return oneOf.includes(issuer.audience) ? issuer.audience : oneOf[0];
          return issuer.audience;
        },
        // the token endpoint issues for the audience asked for at /auth, userinfo aside
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource, client) => {
          if (!resourcesFor(client.clientId).includes(resource)) {
            throw new errors.InvalidTarget(`${client.clientId} may not ask for ${resource}`);
          }
          return {
            scope: API_SCOPE,
            audience: resource,
            accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    extraTokenClaims: async (ctx, token) => {
      if (token.kind === 'ClientCredentials') {
        return { roles: clients.get(token.clientId)?.roles ?? [] };
      }
      if (!token.accountId) return undefined;
      const row = await accounts.find(token.accountId);
      return row ? { roles: row.roles, name: row.display_name } : undefined;
    },
    // These clients are the alliance's own: what one asks for is granted once the person has
    // signed in, so there is no consent screen.
    loadExistingGrant: async (ctx) => {
      const { oidc } = ctx;
      const { accountId } = oidc.account;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== accountId) {
        grant = new oidc.provider.Grant({ accountId, clientId: oidc.client.clientId });
      }
      const oidcScope = [...oidc.requestParamOIDCScopes].join(' ');
      if (oidcScope) grant.addOIDCScope(oidcScope);
      for (const [indicator, server] of Object.entries(oidc.resourceServers)) {
        const scope = [...oidc.requestParamScopes].filter((s) => server.scopes.has(s)).join(' ');
        grant.addResourceScope(indicator, scope || API_SCOPE);
      }
      await grant.save();
      return grant;
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page({
        title: 'Sorry, there is a problem',
        organisation: issuer.title,
        body: `<h1>Sorry, there is a problem</h1>
<p>Go back to Peerlink and try again.</p>
<p class="hint">${escape(out.error)}: ${escape(out.error_description)}</p>`,
      });
    },
  });

  provider.on('grant.success', (ctx) => {
    const { params, client, entities } = ctx.oidc;
    const who = entities.Account?.accountId ?? client?.clientId;
    log(`token for ${who} (${params.grant_type}, client ${client?.clientId})`);
  });
  provider.on('grant.error', (ctx, error) => {
    log(`token refused (${ctx.oidc.params?.grant_type}): ${error.message} ${error.error_description ?? ''}`);
  });
  provider.on('authorization.error', (ctx, error) => {
    log(`authorization refused: ${error.message} ${error.error_description ?? ''}`);
  });
  provider.on('end_session.success', (ctx) => {
    log(`signed out ${ctx.oidc.session?.accountId ?? ''}`.trim());
  });
  provider.on('server_error', (ctx, error) => {
    log(`server error: ${error.stack}`);
  });
  return provider;
}
