// Browser test of the cluster: Debian's Chromium (driven by playwright-core) opens the feed
// through HAProxy (scripts/cluster.sh), and a second page on one instance directly. A post
// made on another instance appears live on the page behind the balancer, and a post made
// from that page appears on the other. No page logs an error; every request stays on
// 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchChromium } from '../lib/browser.mjs';
import { postId } from '../lib/helpers.mjs';
import { startCluster } from '../lib/cluster.mjs';


let cluster, browser;
const problems = [];
const requests = [];

before(async () => {
  cluster = await startCluster({ instances: 3 });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await cluster?.stop();
});

// A page in a fresh context, open on `base` with its event stream connected.
async function openLive(label, base) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 720 } });
  const page = await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => problems.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${label}: console error: ${m.text()}`);
  });
  const stream = page.waitForResponse((r) => r.url().includes('/home/sse'));
  await page.goto(base);
  const res = await stream;
  assert.equal(res.status(), 200);
  assert.match(res.headers()['content-type'], /^text\/event-stream/);
  return page;
}

// Resolves once the page's feed has the card of post `id` on top.
const onTop = (page, id) => page.waitForFunction(
  (want) => document.querySelector('#feed > article')?.id === `post-${want}`, id,
  { timeout: 5000 });

test('a post made on another instance appears live on the page behind HAProxy, and back',
  async (t) => {
    const [web1, web2] = cluster.instances;
    const viaBalancer = await openLive('balancer', cluster.balancer);
    const direct = await openLive('web1', web1.base);

    const text = `Posted on ${web2.name} at ${new Date().toISOString()}`;
    const started = Date.now();
    const id = await postId(web2.base, 'Elsewhere', text);
    await onTop(viaBalancer, id);
    t.diagnostic(`post on ${web2.name} -> page behind HAProxy: ${Date.now() - started} ms`);
    assert.equal(await viaBalancer.locator(`#post-${id} .tw-msg`).textContent(), text);
    await onTop(direct, id);

    // And from the page behind the balancer to the page on web1.
    const mine = 'Posted from the page behind the balancer';
    await viaBalancer.fill('#message', mine);
    const posted = viaBalancer.waitForResponse((r) => r.request().method() === 'POST');
    await viaBalancer.getByRole('button', { name: 'Tweet' }).click();
    const res = await posted;
    assert.equal(res.status(), 204);
    const newId = res.headers()['x-post-id'];
    await onTop(direct, newId);
    await onTop(viaBalancer, newId);
    assert.equal(await direct.locator(`#post-${newId} .tw-msg`).textContent(), mine);
    assert.equal(await viaBalancer.locator('#feed > article').count(), 2, 'each post once');

    assert.deepEqual(problems, [], 'console errors or page errors');
    const away = requests.filter((u) => new URL(u).hostname !== '127.0.0.1');
    assert.deepEqual(away, [], 'requests that left 127.0.0.1');
    for (const i of cluster.instances) assert.deepEqual(cluster.badLogLines(i), [], i.name);
  });
