/** The package's version, read once from package.json (`co2e --version`, service.version). */
import { readFileSync } from "node:fs";

function readPackageVersion(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

export const PACKAGE_VERSION: string | undefined = readPackageVersion();
