import { Co2eError, ERROR_CODES } from "../errors.ts";

/** Model inputs must be finite and non-negative; the message names the input. */
export function requireNonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new Co2eError(ERROR_CODES.modelInput, `${name}: must be a finite number ≥ 0, got ${value}`);
  }
  return value;
}

export function requirePositive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new Co2eError(ERROR_CODES.modelInput, `${name}: must be a finite number > 0, got ${value}`);
  }
  return value;
}
