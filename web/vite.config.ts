/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `npm run dev` talks to a running proxy (SYMPHONY_URL, default the documented bind address).
const target = process.env.SYMPHONY_URL ?? 'http://127.0.0.1:8787';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    // Mermaid is loaded on demand and is large on its own; the app chunk is what matters.
    chunkSizeWarningLimit: 1600,
  },
  server: {
    proxy: {
      '/route': target,
      '/policy': target,
      '/controls': target,
      '/status': target,
      '/runs': target,
      '/decisions': target,
      '/session': target,
      '/audit': target,
      '/keys': target,
      '/events': { target, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    css: false,
  },
});
