import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { Header, Pax } from "tar";
import type { ArtifactStore } from "./types.js";

const BLOCK = 512;

/**
 * A gzipped tar of `files` (`name` in the archive, `key` in the store), streamed object by object:
 * nothing is buffered whole or written to disk, so a 10 GB artifact set costs no more memory than
 * one chunk. Sizes come from the listing; a path over tar's 100 bytes gets a PAX header.
 */
export function streamArchive(store: Pick<ArtifactStore, "get">, files: ReadonlyArray<{ name: string; key: string; sizeBytes: number }>, mtime = new Date()): Readable {
  async function* entries(): AsyncGenerator<Buffer> {
    for (const f of files) {
      const header = new Header({ path: f.name, mode: 0o644, size: f.sizeBytes, mtime, type: "File", uid: 0, gid: 0, uname: "", gname: "" });
      const block = Buffer.alloc(BLOCK);
      if (header.encode(block, 0)) {
        // tar's own Pax writes the extended header (its block and body) for long names.
        yield new Pax({ path: f.name, mtime, size: f.sizeBytes }).encode();
      }
      yield block;
      let written = 0;
      for await (const chunk of await store.get(f.key)) {
        const b = chunk as Buffer;
        const room = f.sizeBytes - written;
        if (room <= 0) break;
        const part = b.length > room ? b.subarray(0, room) : b;
        written += part.length;
        yield part;
      }
      if (written < f.sizeBytes) throw new Error(`artifact ${f.name} is shorter than listed (${written} of ${f.sizeBytes} bytes): it changed while being archived`);
      const pad = (BLOCK - (f.sizeBytes % BLOCK)) % BLOCK;
      if (pad > 0) yield Buffer.alloc(pad);
    }
    yield Buffer.alloc(BLOCK * 2);
  }
  return Readable.from(entries()).pipe(createGzip());
}
