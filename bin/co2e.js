#!/usr/bin/env node
// In a checkout, run the TypeScript sources directly (Node ≥ 22.18 strips types). Installed as a
// package, Node refuses to strip types under node_modules, so run the build from `npm pack`
// (prepack builds dist/).
import { existsSync } from "node:fs";

const here = new URL(".", import.meta.url);
const installed = here.pathname.includes("/node_modules/");
const built = new URL("../dist/cli/main.js", here);
const entry = installed && existsSync(built) ? built : new URL("../src/cli/main.ts", here);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
