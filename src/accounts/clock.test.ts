// dayOf answers from a cache; across midnights and DST changes it must say what Intl says for every instant.
import assert from "node:assert/strict";
import { test } from "node:test";
import { dayOf } from "./clock.js";

const reference = (at: number, timeZone: string) => new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(at));

test("dayOf is Intl's day for every minute across midnights and DST changes, in order and out of order", () => {
  const spans: Array<[string, number]> = [
    ["America/New_York", Date.UTC(2026, 2, 8, 0, 0)], // spring forward: a 23-hour day
    ["America/New_York", Date.UTC(2026, 10, 1, 0, 0)], // fall back: a 25-hour day
    ["Australia/Lord_Howe", Date.UTC(2026, 3, 4, 10, 0)], // a 30-minute DST shift
    ["Asia/Kathmandu", Date.UTC(2026, 11, 2, 12, 0)], // UTC+05:45
    ["Asia/Shanghai", Date.UTC(2026, 10, 22, 15, 0)],
    ["UTC", Date.UTC(2026, 11, 31, 22, 0)],
  ];
  for (const [zone, start] of spans) {
    for (let minute = 0; minute < 36 * 60; minute += 1) {
      const at = start + minute * 60_000 + 17_123;
      assert.equal(dayOf(at, zone), reference(at, zone), `${zone} at ${new Date(at).toISOString()}`);
    }
    const back = start + 3_600_000;
    assert.equal(dayOf(back, zone), reference(back, zone), `${zone}: an earlier instant after a later one`);
  }
});
