/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants as zlib, gzip } from "node:zlib";

const backend = process.env.SABLE_GATEWAY_URL ?? "http://localhost:8000";

/**
 * Writes `name.br` and `name.gz` next to every text file of the build, once, so the servers
 * send them as they are instead of compressing per request: the gateway under `make run`
 * (tower-http ServeDir precompressed_br/_gzip, crates/gateway/src/spa.rs) and the frontend
 * nginx (gzip_static, frontend/nginx.conf). A compressed copy that would not be smaller is
 * not written. Brotli quality 10: 2 % larger than 11 at a third of the build time.
 */
function precompress(): Plugin {
  const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|xml|webmanifest|wasm)$/;
  const MIN_BYTES = 1024;
  const br = promisify(brotliCompress);
  const gz = promisify(gzip);
  async function files(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true, recursive: true });
    return entries.filter((e) => e.isFile() && COMPRESSIBLE.test(e.name)).map((e) => join(e.parentPath, e.name));
  }
  return {
    name: "sable-precompress",
    apply: "build",
    async writeBundle(options) {
      const dir = options.dir;
      if (!dir) return;
      await Promise.all(
        (await files(dir)).map(async (file) => {
          const raw = await readFile(file);
          if (raw.length < MIN_BYTES) return;
          const [b, g] = await Promise.all([
            br(raw, {
              params: { [zlib.BROTLI_PARAM_QUALITY]: 10, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.length },
            }),
            gz(raw, { level: 9 }),
          ]);
          if (b.length < raw.length) await writeFile(`${file}.br`, b);
          if (g.length < raw.length) await writeFile(`${file}.gz`, g);
        }),
      );
    },
  };
}

export default defineConfig({
  plugins: [react(), precompress()],
  resolve: {
    alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) },
  },
  server: {
    port: 5173,
    proxy: {
      "/api": { target: backend, changeOrigin: true },
      "/health": { target: backend, changeOrigin: true },
    },
  },
  build: {
    outDir: "dist",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    // dist/.vite/manifest.json: which chunks each entry and lazy page loads, read by
    // tools/bundle-size.mjs to hold the chat route to its budget.
    manifest: true,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    restoreMocks: true,
  },
});
