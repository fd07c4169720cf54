/**
 * Imported first by the package entry: on a Node older than the package supports, importing the
 * library fails here with one clear error instead of deep inside a dependency (undici needs
 * zlib's zstd, which Node 20 lacks). ES modules evaluate in import order, so this runs before any
 * dependency's code. The minimum matches package.json "engines".
 */
export const MIN_NODE_VERSION = "22.19.0";

/** True when `version` (like process.versions.node, "22.19.0") is at least MIN_NODE_VERSION. */
export function isSupportedNode(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const [minMajor = 0, minMinor = 0] = MIN_NODE_VERSION.split(".").map(Number);
  return major > minMajor || (major === minMajor && minor >= minMinor);
}

if (!isSupportedNode(process.versions.node)) {
  throw new Error(
    `otel-co2e needs Node.js >= ${MIN_NODE_VERSION} (package.json "engines"); this is Node.js v${process.versions.node}. Upgrade Node (22.19+ or 24) to use it.`,
  );
}
