/**
 * Who is fetching a tracked link: the HCP, or a machine acting before them. WhatsApp fetches every link
 * to draw its preview, mail and chat apps do the same, and corporate security gateways open links to scan
 * them; none of those is the HCP reading the piece, so none may count as a click on the timeline. Pure:
 * the request's method and headers in, a verdict out.
 */

export interface LinkRequest {
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

// Link-preview fetchers, crawlers and URL scanners, by the names they give in User-Agent.
const AUTOMATED_AGENTS = new RegExp(
  [
    'whatsapp',
    'facebookexternalhit',
    'facebookcatalog',
    'facebot',
    'meta-externalagent',
    'slackbot',
    'slack-imgproxy',
    'twitterbot',
    'linkedinbot',
    'telegrambot',
    'discordbot',
    'skypeuripreview',
    'microsoftpreview',
    'googlebot',
    'google-inspectiontool',
    'adsbot',
    'bingbot',
    'bingpreview',
    'applebot',
    'yandex',
    'duckduckbot',
    'baiduspider',
    'embedly',
    'iframely',
    'pinterestbot',
    'redditbot',
    'proofpoint',
    'mimecast',
    'barracuda',
    'urldefense',
    'safelinks',
    'symantec',
    'forcepoint',
    'zscaler',
    'trendmicro',
    'fortinet',
    'paloalto',
    'virustotal',
    'urlscan',
    'headlesschrome',
    'phantomjs',
    'python-requests',
    'python-urllib',
    'aiohttp',
    'go-http-client',
    'okhttp',
    'java/',
    'libwww',
    'curl/',
    'wget/',
    'httpclient',
    'axios/',
    'node-fetch',
    'undici',
    '\\bbot\\b',
    'bot/',
    'crawler',
    'spider',
    'scanner',
    'preview',
  ].join('|'),
  'i',
);

function header(request: LinkRequest, name: string): string {
  const value = request.headers[name];
  return (Array.isArray(value) ? value.join(',') : (value ?? '')).trim();
}

/**
 * True when the fetch is not the HCP opening the link: a HEAD request, a prefetch or prerender (Purpose,
 * Sec-Purpose, X-Purpose, X-Moz headers), no User-Agent at all, or a User-Agent naming a preview fetcher,
 * crawler, security scanner or script.
 */
export function isAutomatedFetch(request: LinkRequest): boolean {
  if (request.method.toUpperCase() !== 'GET') return true;
  const purpose = [header(request, 'purpose'), header(request, 'sec-purpose'), header(request, 'x-purpose')]
    .join(' ')
    .toLowerCase();
  if (/prefetch|prerender|preview/.test(purpose)) return true;
  if (header(request, 'x-moz').toLowerCase() === 'prefetch') return true;
  const agent = header(request, 'user-agent');
  if (agent === '') return true;
  return AUTOMATED_AGENTS.test(agent);
}
