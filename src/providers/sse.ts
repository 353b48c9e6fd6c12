/**
 * Server-sent events read from bytes, as the WHATWG HTML standard's event-stream parsing reads them (§9.2.6): lines
 * end with CRLF, LF or CR; a blank line dispatches the event (none when it has no data); `:` starts a comment; a
 * field's value loses one leading space; `data` lines join with LF; a leading BOM is dropped; an event the stream
 * ends before dispatching is dropped. Unlike a text parser, an event's data stays bytes: an image event is one line of
 * ~400 KB of base64 inside JSON, which here is joined once from its chunks and handed on as a view of them — read by
 * providers/answer-json.ts without ever becoming a string. Field names and the event type are short and decoded.
 */

/** The most one event (its unfinished line and its data lines) may hold before the stream is refused. */
export const MAX_EVENT_BYTES = 64 * 1024 * 1024;

/** An event grew past its limit: a broken or hostile stream, refused before it fills the memory. */
export class EventTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`a server-sent event is larger than ${limit} bytes`);
    this.name = "EventTooLarge";
  }
}

/** One server-sent event: its type (`event:`), if it had one, and its data as bytes. */
export interface SseMessage {
  event: string | undefined;
  data: Buffer;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const NEWLINE = Buffer.from([LF]);

/**
 * The line ends of one chunk in order: the next CR and the next LF are each searched for again only once passed, so
 * a chunk of many LF-ended lines is not searched to its end for a CR at every line.
 */
function lineEnds(bytes: Buffer) {
  let cr = -2;
  let lf = -2;
  return (from: number): number => {
    if (cr !== -1 && cr < from) cr = bytes.indexOf(CR, from);
    if (lf !== -1 && lf < from) lf = bytes.indexOf(LF, from);
    if (cr === -1) return lf;
    return lf === -1 || cr < lf ? cr : lf;
  };
}

export class SseReader {
  /** Bytes of the line not yet ended, in the chunks they came in. */
  private partial: Buffer[] = [];
  /** The last line ended with CR: an LF first in the next chunk belongs to it. */
  private afterCr = false;
  private started = false;
  private partialBytes = 0;
  private data: Buffer[] = [];
  private dataBytes = 0;
  private event: string | undefined;

  constructor(private readonly maxEventBytes = MAX_EVENT_BYTES) {}

  /** Reads a chunk; returns the events it completed. Throws EventTooLarge when an event outgrows the limit. */
  feed(chunk: Buffer): SseMessage[] {
    const messages: SseMessage[] = [];
    let bytes = chunk;
    if (!this.started) {
      // The BOM may itself come split: wait for three bytes (or the end) before deciding.
      const head = this.partial.length ? Buffer.concat([...this.partial, bytes]) : bytes;
      if (head.length < BOM.length && BOM.subarray(0, head.length).equals(head)) {
        this.partial = [head];
        return messages;
      }
      this.partial = [];
      this.started = true;
      bytes = head.subarray(0, BOM.length).equals(BOM) ? head.subarray(BOM.length) : head;
    }
    let start = 0;
    if (this.afterCr && bytes[0] === LF) start = 1;
    this.afterCr = false;
    const lineEnd = lineEnds(bytes);
    for (;;) {
      const end = lineEnd(start);
      if (end === -1) break;
      const line = this.partial.length ? Buffer.concat([...this.partial, bytes.subarray(start, end)]) : bytes.subarray(start, end);
      this.partial = [];
      this.partialBytes = 0;
      this.line(line, messages);
      if (bytes[end] === CR) {
        if (end + 1 === bytes.length) this.afterCr = true;
        else if (bytes[end + 1] === LF) {
          start = end + 2;
          continue;
        }
      }
      start = end + 1;
    }
    if (start < bytes.length) {
      this.partial.push(bytes.subarray(start));
      this.partialBytes += bytes.length - start;
    }
    if (this.partialBytes + this.dataBytes > this.maxEventBytes) throw new EventTooLarge(this.maxEventBytes);
    return messages;
  }

  private line(line: Buffer, messages: SseMessage[]): void {
    if (line.length === 0) return this.dispatch(messages);
    const colon = line.indexOf(COLON);
    if (colon === 0) return; // a comment
    const name = colon === -1 ? line.toString("utf8") : line.toString("utf8", 0, colon);
    let value = colon === -1 ? line.subarray(line.length) : line.subarray(colon + 1);
    if (value[0] === SPACE) value = value.subarray(1);
    if (name === "data") {
      this.data.push(value);
      this.dataBytes += value.length + 1;
      if (this.dataBytes > this.maxEventBytes) throw new EventTooLarge(this.maxEventBytes);
    }
    else if (name === "event") this.event = value.toString("utf8");
    // `id` and `retry` matter to a reconnecting EventSource, not to one answer read to its end; others are ignored.
  }

  private dispatch(messages: SseMessage[]): void {
    const { data, event } = this;
    this.data = [];
    this.dataBytes = 0;
    this.event = undefined;
    if (data.length === 0) return;
    const joined = data.length === 1 ? (data[0] as Buffer) : Buffer.concat(data.flatMap((part, index) => (index === 0 ? [part] : [NEWLINE, part])));
    messages.push({ event: event || undefined, data: joined });
  }
}
