export * from "./constants.ts";
export * from "./cpu.ts";
export * from "./emissions.ts";
export * from "./energy.ts";
export * from "./footprint.ts";
export * from "./range.ts";
