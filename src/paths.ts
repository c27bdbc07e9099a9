import { fileURLToPath } from 'node:url';

// src/paths.ts and dist/paths.js sit at the same depth, so this resolves to the
// repository (or image) root both under tsx and from the compiled build.
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));
export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));
export const assetsFolder = fileURLToPath(new URL('../assets', import.meta.url));
/** The operator console as `npm run build` writes it (console/ built by Vite). */
export const consoleFolder = fileURLToPath(new URL('../dist/console', import.meta.url));
