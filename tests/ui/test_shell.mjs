// The UI as a whole: served by the binary at / and under --static-prefix, with the
// security headers the issue asks for, and rendering under its own CSP.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startServer, withPage } from './harness.mjs';

test('the server serves the UI at / with CSP and nosniff', async (t) => {
    const server = await startServer({ seed: 'none' });
    const r = await fetch(server.url);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const csp = r.headers.get('content-security-policy') || '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await r.text();
    const js = /src="\.\/(app-[^"]+\.js)"/.exec(html);
    assert.ok(js, 'index.html names the bundle');
    const a = await fetch(server.url + js[1]);
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type'), /javascript/);
    assert.match(a.headers.get('cache-control') || '', /immutable/);
    assert.equal((await fetch(server.url + '../etc/passwd')).status, 404);

    await withPage(t, server, 'shell-experiments', async (page) => {
        await page.goto('');
        await page.waitForURL(/#\/experiments$/);
        await page.getByRole('link', { name: 'Experiments' }).first().waitFor();
        await page.getByText('Default').first().waitFor();
    });
});

test('the UI works under --static-prefix', async (t) => {
    const server = await startServer({ seed: 'none', staticPrefix: '/mlflow' });
    assert.equal((await fetch(server.origin + '/mlflow/')).status, 200);
    await withPage(t, server, 'shell-static-prefix', async (page) => {
        await page.goto(server.origin + '/mlflow/#/experiments');
        await page.getByText('Default').first().waitFor();
    });
});
