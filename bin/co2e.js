#!/usr/bin/env node
// In a checkout, run the TypeScript sources directly (Node strips types without flags since
// 22.18; the package needs ≥ 22.19, package.json "engines"). Installed as a package, Node refuses
// to strip types under node_modules, so run the build from `npm pack` (prepack builds dist/).
// Plain JavaScript that any Node parses: the version check must run before a .ts import fails
// with ERR_UNKNOWN_FILE_EXTENSION and no hint.
import { existsSync } from "node:fs";

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `co2e needs Node ≥ 22.19 (this is v${process.versions.node}). ` +
      "In a checkout, run it through npm: npm run co2e -- <command>\n",
  );
  process.exit(1);
}

const here = new URL(".", import.meta.url);
const installed = here.pathname.includes("/node_modules/");
const built = new URL("../dist/cli/main.js", here);
const entry = installed && existsSync(built) ? built : new URL("../src/cli/main.ts", here);
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
