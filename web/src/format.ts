// How the dashboard writes counts, money and durations (one way everywhere).

/** 2140 → "2,140". */
export function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** Dollars: cents when there are any, else enough digits to show a fraction of a cent. */
export function usd(value: number): string {
  const digits = value !== 0 && Math.abs(value) < 0.01 ? 6 : 2;
  return `$${value.toFixed(digits)}`;
}

/** A change in dollars, signed: "+$4.10", "-$0.25", "±$0.00". */
export function signedUsd(value: number): string {
  const sign = value > 0 ? '+' : value < 0 ? '-' : '±';
  return `${sign}${usd(Math.abs(value))}`;
}

/** 0.0312 → "3.1%". */
export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** Milliseconds, to a tenth below ten and whole above. */
export function ms(value: number): string {
  return `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ms`;
}
