// Debian's Chromium for the browser tests, through playwright-core: headless, no sandbox (the
// tests run as root), and none of the background traffic that would leave 127.0.0.1.
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// The feed's default Content-Security-Policy (TW_DEFAULT_CSP in mod_tweetsse_config.h).
export const DEFAULT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; " +
  "base-uri 'none'; form-action 'self'";

// Make every page of `context` log each Content-Security-Policy violation with console.error
// ("CSP violation: <directive> blocked <what>"), so that a test that fails on console errors
// fails on violations too, whatever Chromium itself reports. Runs before the page's scripts.
export function reportCspViolations(context) {
  return context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}` +
        ` at ${e.sourceFile || '?'}:${e.lineNumber}`);
    });
  });
}
