/**
 * One suite every BlobStorage driver runs (fs, S3): the same behaviour from the gateway's side, whatever holds
 * the bytes. Each driver's test file calls `storageConformance` with a factory.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BLOB_KEY, type BlobStorage } from "../storage/types.js";

export function storageConformance(name: string, make: () => Promise<{ storage: BlobStorage; close: () => Promise<void> }>): void {
  describe(`BlobStorage conformance: ${name}`, () => {
    let storage: BlobStorage;
    let close: () => Promise<void>;
    before(async () => {
      ({ storage, close } = await make());
    });
    after(() => close());

    test("new keys are unguessable day/random.ext keys; the extension is kept", () => {
      const jpeg = storage.newKey("jpeg");
      const png = storage.newKey("png");
      assert.match(jpeg, BLOB_KEY);
      assert.match(png, /\.png$/);
      assert.notEqual(storage.newKey("jpeg"), jpeg);
      assert.equal(jpeg.slice(0, 8), new Date().toISOString().slice(0, 10).replace(/-/g, ""));
    });

    test("write then get: the same bytes and when they were stored; put does both", async () => {
      const before = Date.now();
      const key = storage.newKey("jpeg");
      const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, index) => index % 251));
      await storage.write(key, bytes);
      const stored = await storage.get(key);
      assert.deepEqual(stored?.bytes, bytes);
      // Some stores keep whole seconds.
      assert.ok((stored?.storedAt.getTime() ?? 0) >= Math.floor(before / 1000) * 1000 - 1000);
      const put = await storage.put(Buffer.from("png bytes"), "png");
      assert.equal((await storage.get(put))?.bytes.toString(), "png bytes");
    });

    test("unknown and malformed keys: get is undefined, write refuses, delete is quiet", async () => {
      assert.equal(await storage.get(storage.newKey("jpeg")), undefined);
      for (const key of ["../etc/passwd", "/abs/key.jpeg", "20261122/short.jpeg", "20261122/AAAAAAAAAAAAAAAAAAAAAA.gif"]) {
        assert.equal(await storage.get(key), undefined, key);
        await assert.rejects(storage.write(key, Buffer.from("x")), /invalid blob key/, key);
        await storage.delete(key);
      }
    });

    test("delete removes; deleting again is quiet", async () => {
      const key = await storage.put(Buffer.from("bye"), "jpeg");
      await storage.delete(key);
      assert.equal(await storage.get(key), undefined);
      await storage.delete(key);
    });

    test("storedAt tells when a blob was stored without reading it, and undefined for none", async () => {
      assert.ok(storage.storedAt, "every driver has it");
      const key = await storage.put(Buffer.from("when"), "jpeg");
      const at = await storage.storedAt(key);
      assert.equal(at?.getTime(), (await storage.get(key))?.storedAt.getTime());
      assert.equal(await storage.storedAt(storage.newKey("jpeg")), undefined);
      assert.equal(await storage.storedAt("../etc/passwd"), undefined);
    });

    test("sweep removes what was stored before the cutoff, and nothing newer", async () => {
      const key = await storage.put(Buffer.from("old"), "jpeg");
      assert.equal(await storage.sweep(new Date(Date.now() - 3_600_000)), 0);
      assert.ok(await storage.get(key));
      const removed = await storage.sweep(new Date(Date.now() + 3_600_000));
      assert.ok(removed >= 1);
      assert.equal(await storage.get(key), undefined);
    });
  });
}
