/**
 * Functions that store a value under one fixed key with a *named* property store.
 *
 * Why: V8 keeps an object with many properties in its fast mode only while they are added by
 * named stores (`o["some.key"] = v`, the key a literal in the source). A computed key (`o[key] = v`),
 * even a constant one, turns the object into a hash table once it has about 16 properties, and
 * every later store is dearer. A job span gains some 40 attributes at its end: ≈ 0.9 µs as
 * computed stores against ≈ 0.13 µs as named ones (Node 24, measured on this project's machines).
 * The key is a literal only in generated code, so each setter is compiled from its key, quoted by
 * JSON.stringify. Where code generation from strings is disabled
 * (`node --disallow-code-generation-from-strings`) a computed store stands in: slower, same result.
 */

/** Stores `value` under the setter's key. */
export type NamedSetter<V> = (target: Record<string, unknown>, value: V) => void;

function compile<V>(key: string, body: string): NamedSetter<V> | undefined {
  try {
    return new Function("target", "value", body.replaceAll("KEY", JSON.stringify(key))) as NamedSetter<V>;
  } catch {
    return undefined;
  }
}

function checkKey(key: string): void {
  // A store to "__proto__" would replace the prototype, not add a property.
  if (key.length === 0 || key === "__proto__")
    throw new Error(`not an attribute key: ${JSON.stringify(key)}`);
}

/** `target[key] = value`. */
export function namedSetter<V>(key: string): NamedSetter<V> {
  checkKey(key);
  return (
    compile<V>(key, "target[KEY] = value;") ??
    ((target, value) => {
      target[key] = value;
    })
  );
}

/** `target[key] = value` unless target already has a value there (undefined counts as none). */
export function namedSetterIfAbsent<V>(key: string): NamedSetter<V> {
  checkKey(key);
  return (
    compile<V>(key, "if (target[KEY] === undefined) target[KEY] = value;") ??
    ((target, value) => {
      if (target[key] === undefined) target[key] = value;
    })
  );
}
