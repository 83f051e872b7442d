import type { IExecuteFunctions } from 'n8n-workflow';

import type { ImageInfo } from '../../shared/imageHeader';
import {
	HEADER_BYTES,
	ImageHeaderError,
	imageEndProblem,
	JpegEndFinder,
	jpegScanStart,
	readImageHeader,
	TAIL_BYTES,
} from '../../shared/imageHeader';
import { IMAGE_LIMITS } from '../../shared/kling';
import { fetchBytes } from '../../shared/transport/download';
import {
	Base64Value,
	base64Length,
	streamedBase64,
	writeBase64,
} from '../../shared/transport/jsonBody';
import type { RequestPolicy } from '../../shared/transport/retry';
import { ValidationError } from '../../shared/validationError';
import { validateImage } from '../helpers/validation';

/**
 * The image to expand, checked against Kling's rules; `bodyValue` is read only when the request is
 * sent.
 */
export interface CheckedImage {
	info: ImageInfo;
	/**
	 * The value of the request's `image` field: the URL, or raw base64 (no data: prefix, which Kling
	 * rejects), written into the request body when it is sent.
	 */
	bodyValue: () => Promise<string | Base64Value>;
	/** What a dry run shows for the `image` field: the URL, or a summary instead of the bytes. */
	preview: string;
}

/** Clean base64, as n8n stores binary data in memory: it can be copied into a JSON body as it is. */
const PLAIN_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Reads this much of a stored file at a time when writing its base64. */
const STREAM_CHUNK = 256 * 1024;

/**
 * The last `count` bytes of a stream, holding no more than that (plus one chunk) at a time; each
 * chunk is also shown to `finder`, so a file is read once for both.
 */
async function lastBytes(
	chunks: AsyncIterable<Buffer>,
	count: number,
	finder?: JpegEndFinder,
): Promise<Buffer> {
	// The recent chunks are kept as they came and joined once at the end, not copied per chunk.
	const kept: Buffer[] = [];
	let keptLength = 0;
	for await (const chunk of chunks) {
		finder?.push(chunk);
		kept.push(chunk);
		keptLength += chunk.length;
		while (keptLength - kept[0].length >= count) keptLength -= kept.shift()!.length;
	}
	const joined = Buffer.concat(kept, keptLength);
	return joined.length > count ? joined.subarray(joined.length - count) : joined;
}

/** The last TAIL_BYTES of a file given as base64 text, decoded from the text's end only. */
function base64Tail(text: string): Buffer {
	const start = Math.max(0, text.length - base64Length(TAIL_BYTES));
	// A slice that starts on a 4-character boundary decodes to the file's own last bytes.
	return Buffer.from(text.slice(start - (start % 4)), 'base64');
}

const lastOf = (bytes: Buffer) => bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES));

/**
 * A file's last bytes, and (asked only when they hold no JPEG end marker) whether one lies from
 * the JPEG's scan start on: see imageEndProblem.
 */
interface ImageEnd {
	tail: Buffer;
	endBeforeTail: () => boolean;
}

/** The end of a file held in memory: its end marker is searched in place, without a copy. */
function endOfBytes(bytes: Buffer, scanFrom: number | undefined): ImageEnd {
	return {
		tail: lastOf(bytes),
		endBeforeTail: () => {
			if (scanFrom === undefined) return false;
			const finder = new JpegEndFinder(scanFrom);
			finder.push(bytes);
			return finder.found;
		},
	};
}

/** Decodes this many base64 characters (a multiple of 4) at a time when searching the text. */
const BASE64_SCAN_CHARS = base64Length(STREAM_CHUNK);

/** Whether a JPEG given as base64 text has an end marker from `scanFrom` on, decoded piecewise. */
function base64HasJpegEnd(text: string, scanFrom: number): boolean {
	const first = Math.floor(scanFrom / 3) * 4;
	const finder = new JpegEndFinder(scanFrom, (first / 4) * 3);
	for (let at = first; at < text.length && !finder.found; at += BASE64_SCAN_CHARS)
		finder.push(Buffer.from(text.slice(at, at + BASE64_SCAN_CHARS), 'base64'));
	return finder.found;
}

/**
 * An input binary's first bytes, its size, its last bytes (read on demand) and its base64 for the
 * body, without holding the file: in memory (n8n's default mode) the item already holds the
 * base64, which is copied into the body as it is; a stored file (filesystem or database mode) is
 * streamed and encoded piece by piece.
 */
async function binarySource(ctx: IExecuteFunctions, itemIndex: number, property: string) {
	const binary = ctx.helpers.assertBinaryData(itemIndex, property);
	const id = binary.id;
	if (id) {
		const byteLength = binary.bytes ?? (await ctx.helpers.getBinaryMetadata(id)).fileSize;
		const head: Buffer[] = [];
		let read = 0;
		const stream = await ctx.helpers.getBinaryStream(id, HEADER_BYTES);
		for await (const chunk of stream as AsyncIterable<Buffer>) {
			head.push(chunk);
			read += chunk.length;
			if (read >= HEADER_BYTES) break;
		}
		stream.destroy();
		const value = streamedBase64(
			byteLength,
			async () => (await ctx.helpers.getBinaryStream(id, STREAM_CHUNK)) as AsyncIterable<Buffer>,
		);
		const first = Buffer.concat(head).subarray(0, HEADER_BYTES);
		// A stored file is read from its start (n8n streams no range): only the tail is kept.
		// The JPEG end marker is looked for in the same pass, so the file is read once for both.
		const end = async (scanFrom: number | undefined): Promise<ImageEnd> => {
			if (byteLength <= first.length) return endOfBytes(first, scanFrom);
			const finder = scanFrom === undefined ? undefined : new JpegEndFinder(scanFrom);
			const tail = await lastBytes(
				(await ctx.helpers.getBinaryStream(id, STREAM_CHUNK)) as AsyncIterable<Buffer>,
				TAIL_BYTES,
				finder,
			);
			return { tail, endBeforeTail: () => finder?.found ?? false };
		};
		return { head: first, byteLength, value, end };
	}
	const text = binary.data;
	if (!PLAIN_BASE64.test(text)) {
		// Base64 with line breaks or a data: prefix (set by hand): decoded once, encoded into the body.
		const bytes = await ctx.helpers.getBinaryDataBuffer(itemIndex, property);
		const value = new Base64Value(base64Length(bytes.length), async (target, offset) => {
			writeBase64(target, offset, bytes, true);
		});
		return {
			head: bytes.subarray(0, HEADER_BYTES),
			byteLength: bytes.length,
			value,
			end: async (scanFrom: number | undefined) => endOfBytes(bytes, scanFrom),
		};
	}
	const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
	const value = new Base64Value(text.length, async (target, offset) => {
		target.write(text, offset, 'latin1');
	});
	return {
		head: Buffer.from(text.slice(0, base64Length(HEADER_BYTES)), 'base64'),
		byteLength: (text.length / 4) * 3 - padding,
		value,
		end: async (scanFrom: number | undefined): Promise<ImageEnd> => ({
			tail: base64Tail(text),
			endBeforeTail: () => scanFrom !== undefined && base64HasJpegEnd(text, scanFrom),
		}),
	};
}

/** Strips a pasted `data:image/png;base64,` prefix and whitespace, and decodes. */
export function decodeBase64Image(text: string, field: string): Buffer {
	const stripped = String(text)
		.trim()
		.replace(/^data:[^,]*;base64,/i, '')
		.replace(/\s+/g, '');
	if (stripped === '' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(stripped)) {
		throw new ValidationError(field, text, 'it must be a PNG or JPEG encoded as base64');
	}
	return Buffer.from(stripped, 'base64');
}

/**
 * The header read from `bytes` (the file's first bytes) and checked against the image rules; with
 * `end` (the file's end, read once the header passed; a JPEG's from its scan start) the file must
 * also hold image data and reach its end (imageEndProblem).
 */
async function checkBytes(
	bytes: Buffer,
	field: string,
	byteLength?: number,
	end?: (scanFrom: number | undefined) => Promise<ImageEnd>,
): Promise<ImageInfo> {
	const size = byteLength ?? bytes.length;
	const header = readHeaderOrReason(bytes);
	if (typeof header === 'string') throw new ValidationError(field, `${size} bytes`, header, false);
	validateImage(header, byteLength, field);
	if (!end) return header;
	const { tail, endBeforeTail } = await end(
		header.format === 'jpeg' ? jpegScanStart(bytes) : undefined,
	);
	const problem = imageEndProblem(bytes, tail, size, endBeforeTail);
	if (problem) throw new ValidationError(field, `${size} bytes`, problem, false);
	return header;
}

/**
 * The header, or why these bytes are not a PNG or JPEG we can read (readImageHeader throws only
 * ImageHeaderError).
 */
function readHeaderOrReason(bytes: Buffer): ImageInfo | string {
	try {
		return readImageHeader(bytes);
	} catch (error) {
		return error instanceof ImageHeaderError ? error.message : 'it is not a readable PNG or JPEG';
	}
}

/**
 * Whether these first bytes settle the header: its size is known, or it can never be read. More
 * bytes cannot change either.
 */
function headerDecided(bytes: Buffer): boolean {
	try {
		readImageHeader(bytes);
		return true;
	} catch (error) {
		return !(error instanceof ImageHeaderError && error.reason === 'truncated');
	}
}

/** The base64 a create would carry, described rather than copied into a dry run's output. */
const bytesPreview = (info: ImageInfo, byteLength: number, source: string) =>
	`<base64 of the ${info.width}×${info.height} image in ${source}, ${byteLength} bytes>`;

/**
 * Reads and checks the item's image from binary data, base64 text or a URL, before anything is paid
 * for.
 */
export async function readImageInput(
	ctx: IExecuteFunctions,
	itemIndex: number,
	policy: RequestPolicy,
): Promise<CheckedImage> {
	const source = ctx.getNodeParameter('imageSource', itemIndex) as 'binary' | 'url' | 'base64';
	if (source === 'binary') {
		const property = ctx.getNodeParameter('binaryPropertyName', itemIndex) as string;
		const field = `Input binary field "${property}"`;
		const source = await binarySource(ctx, itemIndex, property);
		// A header past the first bytes (large EXIF blocks) needs the whole file, for this check only.
		const header =
			headerDecided(source.head) || source.head.length < HEADER_BYTES
				? source.head
				: await ctx.helpers.getBinaryDataBuffer(itemIndex, property);
		const info = await checkBytes(header, field, source.byteLength, source.end);
		// Written into the request body when it is sent: no item's base64 is held for the batch.
		return {
			info,
			preview: bytesPreview(info, source.byteLength, `binary field "${property}"`),
			bodyValue: async () => source.value,
		};
	}
	if (source === 'base64') {
		const text = ctx.getNodeParameter('imageBase64', itemIndex) as string;
		const bytes = decodeBase64Image(text, 'imageBase64');
		const info = await checkBytes(bytes, 'imageBase64', bytes.length, async (scanFrom) =>
			endOfBytes(bytes, scanFrom),
		);
		return {
			info,
			bodyValue: async () => bytes.toString('base64'),
			preview: bytesPreview(info, bytes.length, 'Image (Base64)'),
		};
	}
	const url = String(ctx.getNodeParameter('imageUrl', itemIndex)).trim();
	const head = await fetchBytes(ctx, url, {
		maxBytes: HEADER_BYTES,
		atLimit: 'truncate',
		field: 'imageUrl',
		policy,
		enough: headerDecided,
	});
	// A header past the first bytes (large EXIF blocks) needs the whole file; anything else is
	// decided by the head. Kling reads the URL itself: the file's end is checked only when the whole
	// file was read here (reading the end of a URL would mean downloading all of it).
	const fromHead = readHeaderOrReason(head.bytes);
	if (typeof fromHead !== 'string' || head.bytes.length < HEADER_BYTES)
		return {
			info: await checkBytes(head.bytes, 'imageUrl'),
			bodyValue: async () => url,
			preview: url,
		};
	const whole = await fetchBytes(ctx, url, {
		maxBytes: IMAGE_LIMITS.maxBytes,
		atLimit: 'fail',
		field: 'imageUrl',
		policy,
	});
	return {
		info: await checkBytes(whole.bytes, 'imageUrl', whole.bytes.length, async (scanFrom) =>
			endOfBytes(whole.bytes, scanFrom),
		),
		bodyValue: async () => url,
		preview: url,
	};
}
