#!/usr/bin/env node
// Runs the TypeScript sources directly (Node ≥ 22.18 strips types), or the build in dist/ when the
// package is installed under node_modules, where Node does not strip types.
import { existsSync } from "node:fs";

const built = new URL("../dist/cli/main.js", import.meta.url);
const entry = existsSync(built) ? built : new URL("../src/cli/main.ts", import.meta.url);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
