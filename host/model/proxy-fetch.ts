// fetch through the proxy the environment names, as curl and most tools do: HTTPS_PROXY for
// https:// URLs, HTTP_PROXY for http:// (and for https:// when HTTPS_PROXY is unset), NO_PROXY a
// list of hosts (or .domains, host:port, *) to reach directly; lower-case names too. Edge
// networks often allow the web only through such a proxy. Node's built-in fetch ignores these
// variables on Node 20/22, so undici's EnvHttpProxyAgent does the work (CONNECT tunnels).
import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';

export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** The proxy variables in `env`; undefined when none is set. */
export function proxySettings(env: NodeJS.ProcessEnv): ProxySettings | undefined {
  const pick = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
  const s: ProxySettings = { httpProxy: pick('HTTP_PROXY'), httpsProxy: pick('HTTPS_PROXY'), noProxy: pick('NO_PROXY') };
  return s.httpProxy || s.httpsProxy ? s : undefined;
}

/** For messages: "through the proxy http://proxy:3128 (HTTPS_PROXY)", or '' when none applies to `url`'s scheme. */
export function proxyNote(url: string, s: ProxySettings | undefined): string {
  if (!s) return '';
  const https = url.startsWith('https:');
  const proxy = https ? (s.httpsProxy ?? s.httpProxy) : s.httpProxy;
  if (!proxy) return '';
  const name = https && s.httpsProxy ? 'HTTPS_PROXY' : 'HTTP_PROXY';
  return ` through the proxy ${proxy} (${name}${s.noProxy ? `; NO_PROXY=${s.noProxy}` : ''})`;
}

/** Node's fetch, or undici's through the proxy when the environment names one. */
export function fetchFor(env: NodeJS.ProcessEnv): typeof fetch {
  const s = proxySettings(env);
  if (!s) return fetch;
  const dispatcher = new EnvHttpProxyAgent({ httpProxy: s.httpProxy ?? '', httpsProxy: s.httpsProxy ?? s.httpProxy ?? '', noProxy: s.noProxy ?? '' });
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as typeof fetch;
}
