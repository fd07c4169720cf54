/**
 * Named setters: the same stores as `target[key] = value`, compiled per key so that V8 keeps an
 * object of many attributes in its fast mode. Checked in child processes: with V8's own
 * %HasFastProperties, and with code generation from strings disabled (the computed fallback).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { namedSetter, namedSetterIfAbsent } from "../../src/util/named-setter.ts";

const MODULE = fileURLToPath(new URL("../../src/util/named-setter.ts", import.meta.url));

/** Runs an ES module snippet with the setters imported as `ns` and returns its stdout. */
function runChild(flags: string[], body: string): string {
  const script = `const ns = await import(${JSON.stringify(MODULE)});\n${body}`;
  return execFileSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
    encoding: "utf8",
  }).trim();
}

/** 8 keys added by one computed store site (as the SDK adds a span's first attributes), then 40 more. */
const FILL = `
const put = (o, k, v) => { o[k] = v; };
for (let i = 0; i < 50; i++) put({}, "warm" + (i % 20), i);
const fill = (o) => { for (let i = 0; i < 8; i++) put(o, "job.k" + i, i + 0.5); return o; };
const keys = Array.from({ length: 40 }, (_, i) => "carbon.k" + i);
`;

describe("namedSetter", () => {
  it("stores under its key, overwriting; namedSetterIfAbsent keeps a value already there", () => {
    const target: Record<string, unknown> = { "a.b": 1 };
    namedSetter<number>("a.b")(target, 2);
    namedSetter<string>("c.d")(target, "x");
    namedSetterIfAbsent<number>("a.b")(target, 3);
    namedSetterIfAbsent<number>("e.f")(target, 4);
    expect(target).toEqual({ "a.b": 2, "c.d": "x", "e.f": 4 });
    // Keys that need quoting in source reach the object unchanged.
    const odd = 'q"uo\\te\u2028';
    namedSetter<number>(odd)(target, 5);
    expect(target[odd]).toBe(5);
  });

  it("refuses keys that are not attribute keys", () => {
    expect(() => namedSetter("__proto__")).toThrow(/not an attribute key/);
    expect(() => namedSetterIfAbsent("")).toThrow(/not an attribute key/);
  });

  it("keeps an object of 48 attributes in V8's fast mode, where computed stores do not", () => {
    const out = runChild(
      ["--allow-natives-syntax"],
      `${FILL}
// Computed first: V8 shares property transitions between objects, and once named stores have made
// the fast ones, later computed stores of the same keys in the same order would follow them.
const computed = fill({});
for (let i = 0; i < keys.length; i++) put(computed, keys[i], i);
const setters = keys.map((k) => ns.namedSetter(k));
const named = fill({});
for (let i = 0; i < setters.length; i++) setters[i](named, i);
console.log(JSON.stringify([%HasFastProperties(named), %HasFastProperties(computed), Object.keys(named).length]));`,
    );
    expect(JSON.parse(out)).toEqual([true, false, 48]);
  });

  it("still stores where code generation from strings is disabled", () => {
    const out = runChild(
      ["--disallow-code-generation-from-strings"],
      `let generated = true;
try { new Function("return 1"); } catch { generated = false; }
const o = {};
ns.namedSetter("x.y")(o, 1);
ns.namedSetterIfAbsent("x.y")(o, 2);
ns.namedSetterIfAbsent("z")(o, 3);
console.log(JSON.stringify([generated, o]));`,
    );
    expect(JSON.parse(out)).toEqual([false, { "x.y": 1, z: 3 }]);
  });
});
