// Builds the UI into one directory of static files that the C build embeds into
// mlflow-c (see tools/embed.c). Asset names carry a content hash so the server can
// send them with a long cache lifetime; index.html is the only file that changes name-less.
//
//   node build.mjs [--out DIR] [--watch] [--dev]
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const outIdx = args.indexOf('--out');
const out = resolve(outIdx >= 0 ? args[outIdx + 1] : join(here, 'dist'));
const dev = flag('--dev') || flag('--watch');

const options = {
    entryPoints: { app: join(here, 'src/main.jsx') },
    bundle: true,
    format: 'esm',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    outdir: out,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [{
        // index.html is written after every build so that it names the current hashes.
        name: 'index-html',
        setup(build) {
            build.onEnd((result) => {
                if (result.errors.length) return;
                const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
                const js = outputs.find((f) => f.endsWith('.js'));
                const css = outputs.find((f) => f.endsWith('.css'));
                const html = readFileSync(join(here, 'src/index.html'), 'utf8')
                    .replace('%CSS%', css ? `<link rel="stylesheet" href="./${css}">` : '')
                    .replace('%JS%', `<script type="module" src="./${js}"></script>`);
                writeFileSync(join(out, 'index.html'), html);
            });
        },
    }],
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
if (flag('--watch')) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
    console.log(`watching; writing to ${out}`);
} else {
    await esbuild.build(options);
}
