/**
 * The one gate every string passes before it becomes a metric label value: bounded length, never
 * empty. Costs O(1) whatever the input length (a job name may be megabytes long).
 */
import { LABEL_VALUE_EMPTY, LABEL_VALUE_MAX_LENGTH, LABEL_VALUE_TRUNCATED } from "../semconv.ts";

/**
 * `value` as a label value: "" → LABEL_VALUE_EMPTY; longer than LABEL_VALUE_MAX_LENGTH → its first
 * 127 code units (one fewer if that would split a surrogate pair) followed by LABEL_VALUE_TRUNCATED.
 */
export function labelValue(value: string): string {
  if (value === "") return LABEL_VALUE_EMPTY;
  if (value.length <= LABEL_VALUE_MAX_LENGTH) return value;
  let end = LABEL_VALUE_MAX_LENGTH - LABEL_VALUE_TRUNCATED.length;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return value.slice(0, end) + LABEL_VALUE_TRUNCATED;
}
