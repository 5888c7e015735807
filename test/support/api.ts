// A tiny HTTP client for the API under test.
import { inject } from 'vitest';
import { TOKENS } from './stack.js';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function api<T = any>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  return apiAt(inject('apiUrl'), method, path, body, headers);
}

/** The same, against an API a test started itself (its own config). */
export async function apiAt<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const auth = { authorization: `Bearer ${TOKENS.all}` };
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? { ...auth, ...headers } : { ...auth, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text so the assertion shows it
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}
