import { defineConfig } from "vitest/config";

// The Tauri shell loads ui/dist; `npm run dev` serves the same on :5173.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: "dist", target: "safari16", sourcemap: false },
  test: { environment: "happy-dom", include: ["tests/**/*.test.ts"] },
});
