import type { IDataObject } from 'n8n-workflow';

/**
 * A large base64 value for a JSON body, written straight into the body's bytes when the request is
 * sent, so an image exists once per create in flight (the body) instead of as the file, its base64
 * string, the JSON text and the bytes sent.
 */
export class Base64Value {
	constructor(
		/** Characters of the base64 text (4 per 3 bytes, padded). */
		readonly length: number,
		/** Writes exactly `length` base64 characters into `target` from `offset`. */
		readonly writeTo: (target: Buffer, offset: number) => Promise<void>,
	) {}

	/** Anything that serialises the body another way still gets the right text. */
	toJSON(): string {
		throw new Error('A Base64Value is written by jsonBodyBytes, not JSON.stringify');
	}
}

/** The base64 as text: for the rare reader that needs the characters themselves (a fingerprint). */
export async function base64Text(value: string | Base64Value): Promise<string> {
	if (typeof value === 'string') return value;
	const bytes = Buffer.allocUnsafe(value.length);
	await value.writeTo(bytes, 0);
	return bytes.toString('latin1');
}

/** Base64 characters for `bytes` bytes. */
export const base64Length = (bytes: number): number => 4 * Math.ceil(bytes / 3);

/** Encodes this many bytes at a time: a multiple of 3, so the pieces join without padding. */
const ENCODE_CHUNK = 3 * 16 * 1024;

/**
 * Writes the base64 of `bytes` into `target` in small pieces (no full-size string), continuing a
 * run whose first `carry` bytes were left over from the previous call; returns the bytes it could
 * not encode yet (fewer than 3) and the next offset. `final` flushes them with padding.
 */
export function writeBase64(
	target: Buffer,
	offset: number,
	bytes: Buffer,
	final: boolean,
): { offset: number; rest: Buffer } {
	const whole = final ? bytes.length : bytes.length - (bytes.length % 3);
	let position = offset;
	for (let start = 0; start < whole; start += ENCODE_CHUNK) {
		const piece = bytes.subarray(start, Math.min(whole, start + ENCODE_CHUNK)).toString('base64');
		position += target.write(piece, position, 'latin1');
	}
	return { offset: position, rest: Buffer.from(bytes.subarray(whole)) };
}

/**
 * The base64 of a file of `byteLength` bytes read as a stream (`open` starts a new read each time
 * the body is written), encoded piece by piece into the body.
 */
export function streamedBase64(
	byteLength: number,
	open: () => Promise<AsyncIterable<Buffer>>,
): Base64Value {
	return new Base64Value(base64Length(byteLength), async (target, offset) => {
		let position = offset;
		let carry: Buffer = Buffer.alloc(0);
		let total = 0;
		for await (const chunk of await open()) {
			total += chunk.length;
			// Never past the size announced: the body was sized for it.
			if (total > byteLength) break;
			({ offset: position, rest: carry } = writeBase64(
				target,
				position,
				Buffer.concat([carry, chunk]),
				false,
			));
		}
		if (total !== byteLength)
			throw new Error(`The file changed size while it was read (${byteLength} bytes expected)`);
		writeBase64(target, position, carry, true);
	});
}

/**
 * The body as the bytes to send: plain JSON, except that each Base64Value is written in place as a
 * JSON string. Undefined when the body holds none (it is then sent as an object, as before).
 */
export async function jsonBodyBytes(body: IDataObject): Promise<Buffer | undefined> {
	const large = Object.entries(body).filter(
		(entry): entry is [string, Base64Value] => entry[1] instanceof Base64Value,
	);
	if (large.length === 0) return undefined;
	// Placeholders no other value of the body holds: a random token between NULs.
	const token = Math.random().toString(36).slice(2);
	const marks = large.map((_, index) => `\u0000${token}-${index}\u0000`);
	const text = JSON.stringify({
		...body,
		...Object.fromEntries(large.map(([key], index) => [key, marks[index]])),
	});
	const parts: Array<string | Base64Value> = [];
	let rest = text;
	large.forEach(([, value], index) => {
		const [before, after] = rest.split(JSON.stringify(marks[index]));
		parts.push(`${before}"`, value, '"');
		rest = after;
	});
	parts.push(rest);
	const size = parts.reduce(
		(sum, part) => sum + (typeof part === 'string' ? Buffer.byteLength(part) : part.length),
		0,
	);
	const bytes = Buffer.allocUnsafe(size);
	let offset = 0;
	for (const part of parts) {
		if (typeof part === 'string') offset += bytes.write(part, offset);
		else {
			await part.writeTo(bytes, offset);
			offset += part.length;
		}
	}
	return bytes;
}
