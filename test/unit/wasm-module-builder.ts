/** Core wasm modules assembled byte by byte, for tests of the readers and rewriters of modules. */
import { encodeU32 } from '../../src/wasm/module-bytes.js';

export const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
export const section = (id: number, content: number[]) => [id, ...encodeU32(content.length), ...content];
export const name = (s: string) => {
  const b = [...Buffer.from(s)];
  return [...encodeU32(b.length), ...b];
};
export const vec = (items: number[][]) => [...encodeU32(items.length), ...items.flat()];
export const custom = (label: string, payload: number[]) => section(0, [...name(label), ...payload]);
export const module = (...sections: number[][]) => Uint8Array.from([...HEADER, ...sections.flat()]);
