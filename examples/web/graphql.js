// The transport of the reference client, in the shapes a production client uses:
// - `post`: personal reads and every write, over POST (`Authorization: Bearer`).
// - `persisted`: the storefront over GET as an automatic persisted query: the
//   SHA-256 of the document first, the document itself only when the server
//   answers PERSISTED_QUERY_NOT_FOUND. An anonymous answer carries
//   `Cache-Control: public, max-age=60`, so a CDN or the browser may keep it.
// - `subscribe`: live updates over the `graphql-transport-ws` WebSocket protocol,
//   signed in through the `connection_init` payload.

const ACCEPT = 'application/graphql-response+json, application/json;q=0.9';

/** A GraphQL error with its stable code (`extensions.code`) and field. */
export class ApiError extends Error {
  constructor(error) {
    super(error?.message ?? 'request failed');
    this.code = error?.extensions?.code ?? 'UNKNOWN';
    this.field = error?.extensions?.field;
  }
}

async function sha256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class Api {
  constructor(origin = location.origin) {
    this.endpoint = `${origin}/graphql`;
    this.socketUrl = this.endpoint.replace(/^http/, 'ws') + '/ws';
    this.token = sessionStorage.getItem('booster.token');
    this.socket = null;
    /** Called on every (re)connection: events sent while away are not replayed. */
    this.onConnected = () => {};
  }

  setToken(token) {
    this.token = token;
    if (token) sessionStorage.setItem('booster.token', token);
    else sessionStorage.removeItem('booster.token');
    // The socket is signed in once, at connection: a new credential, a new socket.
    this.socket?.dispose();
    this.socket = null;
  }

  headers() {
    const headers = { accept: ACCEPT };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  async post(query, variables = {}) {
    const response = await fetch(this.endpoint, {
      method: 'POST',
      headers: { ...this.headers(), 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return data(await response.json());
  }

  async persisted(query, variables = {}) {
    const hash = await sha256(query);
    const extensions = { persistedQuery: { version: 1, sha256Hash: hash } };
    const get = async (withQuery) => {
      const url = new URL(this.endpoint);
      if (withQuery) url.searchParams.set('query', query);
      url.searchParams.set('variables', JSON.stringify(variables));
      url.searchParams.set('extensions', JSON.stringify(extensions));
      const response = await fetch(url, { headers: this.headers() });
      return response.json();
    };
    let body = await get(false);
    if (body.errors?.[0]?.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND') {
      body = await get(true);
    }
    return data(body);
  }

  /** Calls `onNext(data)` for every event; returns the function that stops it. */
  subscribe(query, variables, onNext, onError = console.error) {
    if (!this.socket) {
      const token = this.token;
      this.socket = window.graphqlWs.createClient({
        url: this.socketUrl,
        connectionParams: () => (token ? { Authorization: `Bearer ${token}` } : {}),
        retryAttempts: Infinity,
        shouldRetry: () => true,
        on: { connected: () => this.onConnected() },
      });
    }
    return this.socket.subscribe(
      { query, variables },
      {
        next: (message) => (message.errors ? onError(new ApiError(message.errors[0])) : onNext(message.data)),
        error: onError,
        complete: () => {},
      },
    );
  }
}

function data(body) {
  if (body.errors?.length) throw new ApiError(body.errors[0]);
  return body.data;
}
