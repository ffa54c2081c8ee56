/**
 * ISO 4217 active currency codes and their minor units (number of fraction digits).
 * Codes without minor units in the standard (precious metals, XDR, XXX, XTS, …) are not payment
 * currencies and are deliberately absent.
 */
const ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
const THREE = "BHD IQD JOD KWD LYD OMR TND";
const FOUR = "CLF UYW";
const TWO =
  "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD " +
  "CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS " +
  "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL " +
  "MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK " +
  "PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS " +
  "TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG";

const table = new Map<string, number>();
for (const [codes, digits] of [
  [ZERO, 0],
  [TWO, 2],
  [THREE, 3],
  [FOUR, 4],
] as const) {
  for (const code of codes.split(" ")) table.set(code, digits);
}

export const CURRENCY_MINOR_UNITS: ReadonlyMap<string, number> = table;

/** Fraction digits of an ISO 4217 code, or undefined when the code is not an active currency. */
export function minorUnits(currency: string): number | undefined {
  return table.get(currency);
}
