// Preloaded (`node --require bench/copies.cjs`) into a gateway for one short run of the re-hosting scenario: tallies
// the bytes that pass through the JavaScript APIs which copy them — socket reads, Buffer.concat, Buffer.from of a
// string or of another buffer, buffer-to-string decoding, strings written into buffers, JSON.parse's input, JSON.stringify's output, file writes.
// SIGUSR2 writes the running totals to COPIES_FILE. Copies made inside native code (libvips, the kernel) are not
// seen; sharp reads a Buffer input in place. Never loaded outside the benchmark: it slows every call it wraps.
"use strict";
const fs = require("node:fs");
const net = require("node:net");

const totals = { socketReads: 0, concat: 0, fromCopy: 0, decodeToString: 0, writeInto: 0, jsonParse: 0, jsonStringify: 0, fileWrites: 0 };
const size = (value) => (typeof value === "string" ? value.length : value?.byteLength ?? 0);

const push = net.Socket.prototype.push;
net.Socket.prototype.push = function (chunk, encoding) {
  if (chunk) totals.socketReads += size(chunk);
  return push.call(this, chunk, encoding);
};

const concat = Buffer.concat;
Buffer.concat = function (list, length) {
  const result = concat.call(this, list, length);
  totals.concat += result.length;
  return result;
};

const from = Buffer.from;
Buffer.from = function (value, ...rest) {
  const result = from.call(this, value, ...rest);
  // A Buffer over an ArrayBuffer shares its memory; from a string or another view it is a copy.
  if (!(value instanceof ArrayBuffer) && !(typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer)) totals.fromCopy += result.length;
  return result;
};

// toString calls one of the slices: only the outermost call counts.
let decoding = 0;
for (const name of ["toString", "utf8Slice", "latin1Slice", "asciiSlice", "base64Slice", "base64urlSlice", "ucs2Slice", "hexSlice"]) {
  const original = Buffer.prototype[name];
  if (typeof original !== "function") continue;
  Buffer.prototype[name] = function (...args) {
    if (decoding > 0) return original.apply(this, args);
    decoding += 1;
    try {
      const result = original.apply(this, args);
      totals.decodeToString += result.length;
      return result;
    } finally {
      decoding -= 1;
    }
  };
}

// A string decoded into an existing buffer (base64 written slice by slice): the bytes it wrote.
const write = Buffer.prototype.write;
Buffer.prototype.write = function (...args) {
  const written = write.apply(this, args);
  totals.writeInto += written;
  return written;
};

const decode = TextDecoder.prototype.decode;
TextDecoder.prototype.decode = function (...args) {
  const result = decode.apply(this, args);
  totals.decodeToString += result.length;
  return result;
};

const parse = JSON.parse;
JSON.parse = function (text, reviver) {
  totals.jsonParse += size(text);
  return parse.call(this, text, reviver);
};
const stringify = JSON.stringify;
JSON.stringify = function (...args) {
  const result = stringify.apply(this, args);
  totals.jsonStringify += size(result);
  return result;
};

const promises = require("node:fs/promises");
const writeFile = promises.writeFile;
promises.writeFile = function (path, data, options) {
  totals.fileWrites += size(data);
  return writeFile.call(this, path, data, options);
};

process.on("SIGUSR2", () => fs.writeFileSync(process.env.COPIES_FILE, JSON.stringify(totals)));
