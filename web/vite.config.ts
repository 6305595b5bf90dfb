/**
 * Vite build of the SPA (web/ → web/dist). `API_BASE_URL` at build time becomes
 * `import.meta.env.VITE_API_BASE_URL`: the origin of the API when the SPA is hosted elsewhere
 * (a CDN); unset, the SPA calls the API on its own origin. src/http/spa.ts runs this build on
 * `npm start` when web/dist is missing or stale.
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const apiBase = process.env['API_BASE_URL'] ?? process.env['VITE_API_BASE_URL'] ?? '';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  define: { 'import.meta.env.VITE_API_BASE_URL': JSON.stringify(apiBase.replace(/\/+$/, '')) },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/media': 'http://127.0.0.1:3000',
      '/uploads': 'http://127.0.0.1:3000',
    },
  },
});
