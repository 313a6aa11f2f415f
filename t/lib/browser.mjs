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
