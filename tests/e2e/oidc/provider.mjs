// A real OpenID Connect provider for the sign-in browser test: `oidc-provider` (OpenID-certified)
// with its development login form, which accepts any login name and password. The login name is the
// account: its `email` claim, and its `groups` claim from ACCOUNTS.
//
// Environment: PORT (0 for a free one), CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, ACCOUNTS (JSON:
// {"login": {"groups": ["cx-sales"]}}). Prints `listening <issuer>` once it accepts connections.
// Listens on 127.0.0.1 only.
import Provider from 'oidc-provider';

const accounts = JSON.parse(process.env.ACCOUNTS || '{}');

const configuration = {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  // Streamlit reads the ID token's claims (st.user), so the requested claims go into it.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['outcomeloop-e2e-only'] },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: id,
          email_verified: true,
          name: id,
          groups: (accounts[id] || {}).groups || [],
        };
      },
    };
  },
};

const server = (await import('node:http')).createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});
