/**
 * `npm run bench`: runs every bench/*.bench.ts in its own Node process, one after another (2
 * cores: parallel benchmarks would measure each other). Each file prints its results as ratios
 * against a baseline it measures in the same run, and exits non-zero when a target is missed.
 * `npm run bench -- gateway` runs only files whose name contains "gateway".
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts") && (!filter || f.includes(filter)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, ["--expose-gc", `${dir}${file}`], { stdio: "inherit" });
  if (result.status !== 0) {
    failed++;
    console.log(`!!! ${file} exited ${result.status ?? result.signal}`);
  }
}
console.log(`\n${files.length - failed} benchmark files met their targets, ${failed} did not`);
process.exitCode = failed ? 1 : 0;
