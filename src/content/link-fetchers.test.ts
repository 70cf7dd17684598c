import { describe, expect, it } from 'vitest';
import { isAutomatedFetch } from './link-fetchers.js';

const iphone =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const android =
  'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36';

describe('telling the HCP from a machine', () => {
  it.each([
    ['WhatsApp link preview', 'WhatsApp/2.24.6.77 A'],
    ['Facebook crawler', 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)'],
    ['Slack unfurler', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)'],
    ['Twitter card fetcher', 'Twitterbot/1.0'],
    [
      'LinkedIn preview',
      'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
    ],
    ['Telegram preview', 'TelegramBot (like TwitterBot)'],
    ['Microsoft Teams / Skype preview', 'Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5'],
    ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
    ['Proofpoint URL defense', 'Mozilla/5.0 Proofpoint URL Defense'],
    ['Mimecast scanner', 'Mimecast-URL-Protect/1.0'],
    ['a headless browser', 'Mozilla/5.0 HeadlessChrome/120.0.0.0 Safari/537.36'],
    ['curl', 'curl/8.5.0'],
    ['python requests', 'python-requests/2.31.0'],
    ['no User-Agent', ''],
  ])('treats %s as automated', (_name, agent) => {
    expect(isAutomatedFetch({ method: 'GET', headers: { 'user-agent': agent } })).toBe(true);
  });

  it.each<[string, Record<string, string>]>([
    ['a Purpose: prefetch header', { purpose: 'prefetch' }],
    ['a Sec-Purpose: prefetch;prerender header', { 'sec-purpose': 'prefetch;prerender' }],
    ['an X-Purpose: preview header', { 'x-purpose': 'preview' }],
    ['an X-Moz: prefetch header', { 'x-moz': 'prefetch' }],
  ])('treats a browser request with %s as automated', (_name, headers) => {
    expect(isAutomatedFetch({ method: 'GET', headers: { 'user-agent': iphone, ...headers } })).toBe(true);
  });

  it('treats a HEAD request as automated', () => {
    expect(isAutomatedFetch({ method: 'HEAD', headers: { 'user-agent': iphone } })).toBe(true);
  });

  it.each([
    ['Safari on an iPhone', iphone],
    ['Chrome on Android', android],
  ])('counts %s as the HCP', (_name, agent) => {
    expect(isAutomatedFetch({ method: 'GET', headers: { 'user-agent': agent } })).toBe(false);
  });
});
