// Vite build of the PWA. No React plugin (it needs Vite 8 on npm 11; see
// ../shared/FACTS.md): esbuild's automatic JSX runtime does the same job
// for a production build. `npm run dev` proxies the API to `make run`.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig } from 'vite';

// Files of public/ the service worker precaches beside the built ones.
const PUBLIC_SHELL = ['/manifest.webmanifest', '/icons/icon.svg', '/icons/icon-192.png', '/icons/icon-512.png'];

// Writes the app shell's file list (hashed names, known only after the
// bundle is written) and a version derived from it into dist/sw.js, so a
// new build is a new service worker and a new cache.
function serviceWorkerPrecache() {
  let outDir = 'dist';
  let files = [];
  return {
    name: 'spotlight-sw-precache',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    generateBundle(_options, bundle) {
      files = Object.keys(bundle).filter((f) => f !== 'index.html' && !f.endsWith('.map'));
    },
    closeBundle() {
      const swFile = join(outDir, 'sw.js');
      const list = ['/index.html', ...files.sort().map((f) => `/${f}`), ...PUBLIC_SHELL];
      const hash = createHash('sha256');
      hash.update(JSON.stringify(list));
      hash.update(readFileSync(join(outDir, 'index.html')));
      const version = hash.digest('hex').slice(0, 16);
      let sw = readFileSync(swFile, 'utf8');
      const before = sw;
      sw = sw.replace(/const VERSION = [^;]*; \/\* __SC_VERSION__ \*\//, `const VERSION = '${version}';`);
      sw = sw.replace(/const PRECACHE = [^;]*; \/\* __SC_PRECACHE__ \*\//, `const PRECACHE = ${JSON.stringify(list)};`);
      if (sw === before || sw.includes('__SC_')) {
        throw new Error(`cannot write the precache list into '${swFile}': markers not found`);
      }
      writeFileSync(swFile, sw);
    },
  };
}

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  plugins: [serviceWorkerPrecache()],
  build: {
    target: 'es2020',
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': 'http://localhost:8080',
      '/socket.io': { target: 'ws://localhost:8080', ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['test/**/*.test.{js,jsx}'],
  },
});
