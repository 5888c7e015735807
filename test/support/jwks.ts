// An identity provider in miniature: signing keys made with jose and their JSON Web Key Set
// served over HTTP on 127.0.0.1, with a count of the fetches so tests can see jose's cache.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as published in the key set. */
  jwk: JWK;
}

export async function signingKey(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk };
}

export interface JwksServer {
  url: URL;
  /** Publishes these keys (and only these) from now on. */
  publish(keys: SigningKey[]): void;
  /** How many times the key set was fetched. */
  fetches(): number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[] = []): Promise<JwksServer> {
  let published = keys;
  let fetches = 0;
  const server = createServer((_request, response) => {
    fetches++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: published.map((key) => key.jwk) }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`),
    publish: (next) => {
      published = next;
    },
    fetches: () => fetches,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port just freed). */
export async function unreachableUrl(): Promise<URL> {
  const server = await startJwksServer();
  await server.close();
  return server.url;
}
