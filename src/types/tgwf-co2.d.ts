// @tgwf/co2 ships no TypeScript declarations; these describe the two data modules we read.

declare module "@tgwf/co2/data/electricity-maps" {
  export interface ElectricityMapsYearlyZone {
    zone: { zoneName: string; displayName?: string; countryName?: string };
    carbonIntensity: { value: number; unit: string };
    renewableEnergy?: { value: number; unit: string };
    carbonFreeEnergy?: { value: number; unit: string };
  }
  export interface ElectricityMapsYearly {
    data: Record<string, ElectricityMapsYearlyZone>;
    methodology: string;
  }
  export const yearly2021: ElectricityMapsYearly;
  export const yearly2022: ElectricityMapsYearly;
  export const yearly2023: ElectricityMapsYearly;
  export const yearly2024: ElectricityMapsYearly;
  export const yearly2025: ElectricityMapsYearly;
}

declare module "@tgwf/co2/data" {
  /** Ember yearly average grid intensity by ISO alpha-3 country (and regions like WORLD), gCO2e/kWh. */
  export const averageIntensity: { data: Record<string, number>; type: string };
}
