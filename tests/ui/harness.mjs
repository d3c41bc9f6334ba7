// Harness for the browser tests: a real `mlflow-c server` on 127.0.0.1 over a fresh
// store, seeded through libmlflow by the `ui_seed` program, and Debian's Chromium driven
// by playwright-core. Nothing is mocked: the page talks to the server over HTTP.
//
// Environment: MLFLOW_C (server binary), UI_SEED (seeder), UI_ARTIFACTS (where
// screenshots go; default: a temp dir), CHROMIUM (default /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../..');
// playwright-core is a dev dependency of the UI, so it comes from web/node_modules.
const require = createRequire(join(repoRoot, 'web', 'package.json'));
const { chromium } = require('playwright-core');

export const artifactsDir = process.env.UI_ARTIFACTS || mkdtempSync(join(tmpdir(), 'ui-shots-'));
mkdirSync(artifactsDir, { recursive: true });

function need(name) {
    const v = process.env[name];
    if (!v) throw new Error(`${name} must name the binary (see tests/CMakeLists.txt)`);
    return v;
}

const cleanups = [];
after(async () => {
    for (const f of cleanups.reverse()) await f();
});

/**
 * Starts a server over a fresh store and seeds it.
 *   store: 'sqlite' (default) or 'file'
 *   seed: 'standard' (tests/ui/seed.c), 'none', or ['scale', nRuns, nPoints]
 *   copyFileStore: path of an mlruns directory to serve (a copy), e.g. MLflow's fixture
 *   prepare(dir, storePath): called after the copy, before the server starts
 *   staticPrefix: e.g. '/mlflow'
 * Returns {url, apiUrl, storeUri, dir, seedOutput, stop()}. url ends with '/'.
 */
export async function startServer({ store = 'sqlite', seed = 'standard', copyFileStore,
                                    prepare, staticPrefix, env = {} } = {}) {
    const bin = need('MLFLOW_C');
    const dir = mkdtempSync(join(tmpdir(), 'ui-server-'));
    let storeUri;
    if (copyFileStore) {
        cpSync(copyFileStore, join(dir, 'mlruns'), { recursive: true });
        storeUri = join(dir, 'mlruns');
        if (prepare) await prepare(dir, storeUri);
    } else {
        storeUri = store === 'file' ? join(dir, 'mlruns') : `sqlite:///${join(dir, 'mlflow.db')}`;
    }
    const args = ['server', '--host', '127.0.0.1', '--port', '0',
                  '--backend-store-uri', storeUri,
                  '--artifacts-destination', join(dir, 'artifacts')];
    if (staticPrefix) args.push('--static-prefix', staticPrefix);
    const child = spawn(bin, args, { cwd: dir, env: { ...process.env, ...env },
                                     stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const port = await new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`server did not start:\n${log}`)), 15000);
        child.stderr.on('data', (d) => {
            log += d;
            const m = /listening on http:\/\/[^:]+:(\d+)/.exec(log);
            if (m) {
                clearTimeout(timer);
                ok(Number(m[1]));
            }
        });
        child.on('exit', (code) => fail(new Error(`server exited (${code}):\n${log}`)));
    });
    const origin = `http://127.0.0.1:${port}`;
    const server = {
        origin,
        url: `${origin}${staticPrefix || ''}/`,
        apiUrl: `${origin}/api/2.0/mlflow/`,
        storeUri,
        dir,
        log: () => log,
        seedOutput: '',
        stopped: false,
        async stop() {
            if (server.stopped) return;
            server.stopped = true;
            const done = new Promise((ok) => child.once('exit', ok));
            child.kill('SIGTERM');
            await done;
            rmSync(dir, { recursive: true, force: true });
        },
    };
    cleanups.push(() => server.stop());
    if (seed !== 'none' && !copyFileStore) {
        const seedArgs = Array.isArray(seed) ? seed.map(String) : [seed];
        // Not spawnSync: a blocked event loop stops draining the server's stderr, and
        // a server whose access log fills the pipe stalls mid-seed.
        const r = await runSeed(need('UI_SEED'), [origin, ...seedArgs]);
        if (r.status !== 0)
            throw new Error(`ui_seed failed (${r.status}): ${r.stderr}${r.error || ''}`);
        server.seedOutput = r.stdout;
    }
    return server;
}

/** Runs the seeder without blocking the event loop: {status, stdout, stderr, error}. */
function runSeed(bin, args) {
    return new Promise((ok) => {
        const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => { stdout += d; });
        child.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => child.kill('SIGKILL'), 600000);
        child.on('error', (error) => {
            clearTimeout(timer);
            ok({ status: -1, stdout, stderr, error });
        });
        child.on('close', (status) => {
            clearTimeout(timer);
            ok({ status, stdout, stderr });
        });
    });
}

let browserPromise;
/** One headless Chromium per test process, closed when the process's tests end. */
export function launchBrowser() {
    if (!browserPromise) {
        browserPromise = chromium.launch({
            executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
            args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                   '--disable-background-networking', '--disable-component-update',
                   '--disable-sync'],
        });
        cleanups.unshift(async () => (await browserPromise).close());
    }
    return browserPromise;
}

function fileName(name) {
    return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100);
}

/**
 * Runs fn(page) in a fresh browser context. The test fails if the page throws an
 * uncaught error or the browser reports a Content-Security-Policy violation (the UI
 * must work under the server's CSP). A screenshot is kept either way:
 * <name>.png on success, <name>-FAILED.png on failure.
 */
export async function withPage(t, server, name, fn, { viewport } = {}) {
    const browser = await launchBrowser();
    const context = await browser.newContext({
        baseURL: server.url,
        viewport: viewport || { width: 1400, height: 900 },
    });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text()))
            problems.push(`CSP violation: ${m.text()}`);
    });
    page.setDefaultTimeout(15000);
    try {
        await fn(page);
        if (problems.length) throw new Error(problems.join('\n'));
        await page.screenshot({ path: join(artifactsDir, `${fileName(name)}.png`), fullPage: false });
    } catch (e) {
        try {
            await page.screenshot({ path: join(artifactsDir, `${fileName(name)}-FAILED.png`) });
        } catch { /* the page may be gone */ }
        if (problems.length) e.message += `\n${problems.join('\n')}`;
        throw e;
    } finally {
        await context.close();
    }
}

/** Calls the REST API directly (to check what the UI did, or to set up a case). */
export async function api(server, method, endpoint, body) {
    const init = { method, headers: {} };
    let url = server.apiUrl + endpoint;
    if (method === 'GET' && body) url += '?' + new URLSearchParams(body);
    else if (body) {
        init.headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
    }
    const r = await fetch(url, init);
    const json = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(`${method} ${endpoint}: ${r.status} ${JSON.stringify(json)}`);
    return json;
}

/** The experiment with this name (via the API). */
export async function experimentByName(server, name) {
    return (await api(server, 'GET', 'experiments/get-by-name',
                      { experiment_name: name })).experiment;
}

/** All runs of an experiment whose run name is `name`. */
export async function runByName(server, experimentId, name) {
    const r = await api(server, 'POST', 'runs/search', {
        experiment_ids: [experimentId],
        filter: `attributes.run_name = '${name.replace(/'/g, "\\'")}'`,
        run_view_type: 'ALL',
    });
    return (r.runs || [])[0];
}
