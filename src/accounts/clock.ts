/** Calendar days in the usage time zone (`USAGE_TIME_ZONE`, UTC by default): daily quotas reset at its midnight. */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
    formatters.set(timeZone, found);
  }
  return found;
}

function parts(at: number, timeZone: string): Record<string, string> {
  return Object.fromEntries(formatter(timeZone).formatToParts(new Date(at)).map((part) => [part.type, part.value]));
}

/** `YYYY-MM-DD` of an instant in a time zone. */
export function dayOf(at: number, timeZone: string): string {
  const { year, month, day } = parts(at, timeZone);
  return `${year}-${month}-${day}`;
}

/** Seconds from an instant to the next midnight in a time zone. */
export function secondsToMidnight(at: number, timeZone: string): number {
  const { hour, minute, second } = parts(at, timeZone);
  return Math.max(1, 86_400 - (Number(hour) * 3600 + Number(minute) * 60 + Number(second)));
}

/** Whether a time zone name is known to this runtime. */
export function isTimeZone(name: string): boolean {
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}
