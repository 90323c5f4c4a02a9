/** Serial line settings, their timing, and opening a port with them. */
import { SerialPort } from "serialport";

export type Parity = "none" | "even" | "odd";

export interface LineOptions {
  /** bits per second; DL/T 645 meters commonly use 2400 (the default) or 9600 */
  baudRate: number;
  parity: Parity;
  dataBits: 7 | 8;
  stopBits: 1 | 2;
}

/** DL/T 645-2007 default: 2400 baud, 8 data bits, even parity, 1 stop bit (8E1). */
export const DEFAULT_LINE: Readonly<LineOptions> = { baudRate: 2400, parity: "even", dataBits: 8, stopBits: 1 };

const PARITIES: readonly Parity[] = ["none", "even", "odd"];

/** Fills in defaults and checks line options; TypeError on a bad one. */
export function lineOptions(options: Partial<LineOptions> = {}): LineOptions {
  const line = { ...DEFAULT_LINE, ...stripUndefined(options) };
  if (!Number.isInteger(line.baudRate) || line.baudRate < 300 || line.baudRate > 115200) {
    throw new TypeError(`baudRate must be an integer 300..115200, got ${line.baudRate}`);
  }
  if (!PARITIES.includes(line.parity)) throw new TypeError(`parity must be one of ${PARITIES.join(", ")}, got ${line.parity}`);
  if (line.dataBits !== 7 && line.dataBits !== 8) throw new TypeError(`dataBits must be 7 or 8, got ${line.dataBits}`);
  if (line.stopBits !== 1 && line.stopBits !== 2) throw new TypeError(`stopBits must be 1 or 2, got ${line.stopBits}`);
  return line;
}

/** Bits on the wire per byte: start bit, data bits, parity bit if any, stop bits (8E1: 11). */
export function bitsPerByte(line: LineOptions): number {
  return 1 + line.dataBits + (line.parity === "none" ? 0 : 1) + line.stopBits;
}

/** Milliseconds the line needs to carry `bytes` bytes. */
export function transmitMs(bytes: number, line: LineOptions): number {
  return (bytes * bitsPerByte(line) * 1000) / line.baudRate;
}

/** Opens a serial port (or pseudo-terminal) with the given line settings. */
export function openSerialPort(path: string, line: LineOptions): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path, ...line, autoOpen: false });
    port.open((error) => (error ? reject(new Error(`cannot open ${path}: ${error.message.replace(/^Error: /, "")}`)) : resolve(port)));
  });
}

/** Closes a port if it is open; never rejects. */
export function closeSerialPort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
}

/** A copy without undefined fields, so defaults apply to them. */
export function stripUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
