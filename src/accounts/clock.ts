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

/**
 * The day last computed per time zone, with the instants it covers: from that computation to the next midnight or
 * the next UTC quarter hour, whichever is first. Every UTC offset is a multiple of 15 minutes, so no zone changes its
 * offset (DST) inside a quarter hour: within one, local time runs straight and the midnight computed is exact.
 */
const days = new Map<string, { day: string; from: number; until: number }>();

/** `YYYY-MM-DD` of an instant in a time zone: formatted once a quarter hour per zone, not once a request. */
export function dayOf(at: number, timeZone: string): string {
  const cached = days.get(timeZone);
  if (cached && at >= cached.from && at < cached.until) return cached.day;
  const { year, month, day, hour, minute, second } = parts(at, timeZone);
  const text = `${year}-${month}-${day}`;
  // Whole seconds left to midnight, less the milliseconds already past in this second.
  const untilMidnight = (86_400 - (Number(hour) * 3600 + Number(minute) * 60 + Number(second))) * 1000 - (at % 1000);
  const quarter = 15 * 60_000;
  days.set(timeZone, { day: text, from: at, until: Math.min(at + untilMidnight, (Math.floor(at / quarter) + 1) * quarter) });
  return text;
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
