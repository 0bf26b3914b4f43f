/**
 * The example data's raw detector frame format ("FRM1"): a 64-byte little-endian header followed
 * by the pixels, 16-bit unsigned, row by row. A stand-in for the small binary formats that
 * cameras and detectors write.
 *
 * | Offset | Type     | Field                               |
 * | -----: | -------- | ----------------------------------- |
 * |      0 | 4 bytes  | magic `FRM1`                        |
 * |      4 | u16      | header size (64)                    |
 * |      6 | u16      | width (pixels)                      |
 * |      8 | u16      | height (pixels)                     |
 * |     10 | u16      | bits per pixel (16)                 |
 * |     12 | u32      | frame number                        |
 * |     16 | f64      | timestamp (seconds since the epoch) |
 * |     24 | f32      | exposure (ms)                       |
 * |     28 | f32      | detector temperature (°C)           |
 * |     32 | 16 bytes | detector id, ASCII, NUL-padded      |
 * |     48 | 16 bytes | reserved (zero)                     |
 *
 * @module
 */

/** The first four bytes of a frame file. */
export const FRAME_MAGIC = "FRM1";

/** The size of the header in bytes. */
export const FRAME_HEADER_SIZE = 64;

/** The header fields of a frame. */
export interface FrameHeader {
  /** Pixels per row. */
  width: number;
  /** Rows. */
  height: number;
  /** Bits per pixel (always 16 here). */
  bitsPerPixel: number;
  /** The frame's number in its series. */
  frameNumber: number;
  /** When the frame was taken, in seconds since the epoch. */
  timestamp: number;
  /** Exposure time in milliseconds. */
  exposureMs: number;
  /** Detector temperature in °C. */
  detectorTempC: number;
  /** The detector's id. */
  detectorId: string;
}

/**
 * Encodes a frame: the header, then `pixels` (width × height values).
 *
 * @example
 * ```ts
 * import { encodeFrame, parseFrameHeader } from "./frame_format.ts";
 *
 * const header = {
 *   width: 2, height: 1, bitsPerPixel: 16, frameNumber: 7, timestamp: 1.5e9,
 *   exposureMs: 50, detectorTempC: -20, detectorId: "CAM-1",
 * };
 * const bytes = encodeFrame(header, new Uint16Array([1, 2]));
 * console.assert(bytes.length === 68 && parseFrameHeader(bytes)?.frameNumber === 7);
 * ```
 *
 * @param header The header fields.
 * @param pixels The pixel values, row by row.
 * @returns The file's bytes.
 */
export function encodeFrame(header: FrameHeader, pixels: Uint16Array): Uint8Array<ArrayBuffer> {
  if (pixels.length !== header.width * header.height) {
    throw new RangeError(
      `Frame has ${pixels.length} pixels, expected ${header.width} × ${header.height}.`,
    );
  }
  const bytes = new Uint8Array(FRAME_HEADER_SIZE + pixels.length * 2);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(FRAME_MAGIC), 0);
  view.setUint16(4, FRAME_HEADER_SIZE, true);
  view.setUint16(6, header.width, true);
  view.setUint16(8, header.height, true);
  view.setUint16(10, header.bitsPerPixel, true);
  view.setUint32(12, header.frameNumber, true);
  view.setFloat64(16, header.timestamp, true);
  view.setFloat32(24, header.exposureMs, true);
  view.setFloat32(28, header.detectorTempC, true);
  bytes.set(new TextEncoder().encode(header.detectorId).subarray(0, 16), 32);
  for (let i = 0; i < pixels.length; i++) {
    view.setUint16(FRAME_HEADER_SIZE + i * 2, pixels[i], true);
  }
  return bytes;
}

/**
 * Reads a frame's header; `undefined` when `bytes` is not a frame (wrong magic, or too short for
 * its pixels).
 *
 * @param bytes The file's bytes.
 * @returns The header, or `undefined`.
 */
export function parseFrameHeader(bytes: Uint8Array): FrameHeader | undefined {
  if (bytes.length < FRAME_HEADER_SIZE) return undefined;
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== FRAME_MAGIC) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerSize = view.getUint16(4, true);
  const header: FrameHeader = {
    width: view.getUint16(6, true),
    height: view.getUint16(8, true),
    bitsPerPixel: view.getUint16(10, true),
    frameNumber: view.getUint32(12, true),
    timestamp: view.getFloat64(16, true),
    exposureMs: Math.round(view.getFloat32(24, true) * 1000) / 1000,
    detectorTempC: Math.round(view.getFloat32(28, true) * 1000) / 1000,
    detectorId: new TextDecoder().decode(bytes.subarray(32, 48)).replace(/\0+$/, ""),
  };
  if (headerSize < FRAME_HEADER_SIZE || header.bitsPerPixel !== 16) return undefined;
  if (bytes.length < headerSize + header.width * header.height * 2) return undefined;
  return header;
}

/**
 * The pixels of a frame whose header {@linkcode parseFrameHeader} read.
 *
 * @param bytes The file's bytes.
 * @param header Its header.
 * @returns The pixel values, row by row.
 */
export function framePixels(bytes: Uint8Array, header: FrameHeader): Uint16Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = view.getUint16(4, true);
  const pixels = new Uint16Array(header.width * header.height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = view.getUint16(start + i * 2, true);
  return pixels;
}
