/**
 * Format and pixel size of a PNG or JPEG, read from the first bytes of the file.
 *
 * Kling accepts only JPG/JPEG/PNG, at least 300 px a side, with an aspect ratio between 1:2.5 and
 * 2.5:1, and its expansion ratios are multiples of the original width and height. Knowing the size
 * lets the node refuse a bad image and compute ratios before paying for a task, from a few
 * kilobytes of a download and without decoding pixels.
 *
 * The size is the one stored in the file. EXIF orientation is deliberately not applied: Kling
 * receives the bytes as they are and its ratios refer to the stored raster, so a portrait photo
 * stored as 4000 × 3000 with "rotate 90°" is reported as 4000 × 3000, exactly like sharp's
 * `metadata().width/height`.
 *
 * @see https://kling.ai/document-api/api/image/common/outpainting
 * @see https://www.w3.org/TR/png-3/#11IHDR
 * @see https://www.w3.org/Graphics/JPEG/itu-t81.pdf (Annex B, compressed data formats)
 */

/** A JPEG's size marker is usually in the first few KB; EXIF thumbnails can push it further. */
export const HEADER_BYTES = 64 * 1024;

export type ImageFormat = 'png' | 'jpeg';

export interface ImageInfo {
	format: ImageFormat;
	width: number;
	height: number;
	mimeType: 'image/png' | 'image/jpeg';
	extension: 'png' | 'jpg';
}

/**
 * Why the header could not be read:
 * - `empty`: no bytes at all;
 * - `unsupported-format`: the bytes are not a PNG or JPEG;
 * - `truncated`: the bytes end before the size (a partial download, or too few bytes read);
 * - `corrupt`: the header structure is damaged;
 * - `missing-size`: the JPEG ends without stating its size, as a tables-only JPEG does;
 * - `invalid-size`: the stated width or height is zero or out of the format's range.
 */
export type ImageHeaderErrorReason =
	| 'empty'
	| 'unsupported-format'
	| 'truncated'
	| 'corrupt'
	| 'missing-size'
	| 'invalid-size';

/** The only error `readImageHeader` throws; `message` is meant for the end user. */
export class ImageHeaderError extends Error {
	readonly reason: ImageHeaderErrorReason;

	constructor(reason: ImageHeaderErrorReason, message: string) {
		super(message);
		this.name = 'ImageHeaderError';
		this.reason = reason;
	}
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// Only SOI is required: libjpeg opens a file whose SOI is followed by stray bytes, so do we.
const JPEG_SOI_BYTES = [0xff, 0xd8];

// IHDR must be the first chunk: signature (8), length (4), "IHDR" (4), 13 data bytes, CRC (4).
const PNG_HEADER_LENGTH = 33;
const IHDR_TYPE = [0x49, 0x48, 0x44, 0x52];
// PNG sizes are unsigned 32-bit fields, but the spec caps them at 2^31 - 1.
const PNG_MAX_DIMENSION = 0x7fffffff;

const JPEG_SOI = 0xd8;
const JPEG_EOI = 0xd9;
const JPEG_SOS = 0xda;
const JPEG_TEM = 0x01;

/**
 * Reads the format, width and height of a PNG or JPEG without decoding it.
 *
 * Only the header has to be present: for a PNG the first 33 bytes, for a JPEG everything up to its
 * frame header (SOF), which follows any EXIF, ICC or XMP segments; 64 KB is plenty for almost every
 * photo. Bytes after the header are never read.
 *
 * @throws ImageHeaderError when the bytes are not a readable PNG or JPEG header; never any
 * other error. Work is linear in the bytes given and no index outside them is read.
 * @see https://www.w3.org/TR/png-3/#11IHDR
 * @see https://www.w3.org/Graphics/JPEG/itu-t81.pdf
 */
export function readImageHeader(bytes: Uint8Array): ImageInfo {
	// Called from plain JavaScript, a missing value must still end in our error, not a TypeError.
	if (bytes === null || bytes === undefined || typeof bytes.length !== 'number') {
		throw new ImageHeaderError('empty', 'No image data was given');
	}
	if (bytes.length === 0) {
		throw new ImageHeaderError('empty', 'The image is empty (0 bytes)');
	}

	const format = detectImageFormat(bytes);
	if (format === 'png') return readPngHeader(bytes);
	if (format === 'jpeg') return walkJpegHeader(bytes).info;

	if (isProperPrefix(bytes, PNG_SIGNATURE) || isProperPrefix(bytes, JPEG_SOI_BYTES)) {
		throw new ImageHeaderError(
			'truncated',
			`The image is truncated: only ` +
				`${bytes.length === 1 ? '1 byte was' : `${bytes.length} bytes were`} ` +
				'given, too few to read its header',
		);
	}
	const lookalike = describeOtherFormat(bytes);
	throw new ImageHeaderError(
		'unsupported-format',
		`The image is not a PNG or JPEG${lookalike ? `: it looks like ${lookalike}` : ''} ` +
			`(first bytes: ${hexPreview(bytes)}). Kling accepts only PNG and JPEG images`,
	);
}

/**
 * Tells PNG from JPEG by their magic bytes only; the rest of the file is not checked.
 *
 * @see https://www.w3.org/TR/png-3/#5PNG-file-signature
 * @see https://www.w3.org/Graphics/JPEG/itu-t81.pdf (B.2.1, SOI)
 */
export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
	if (bytes === null || bytes === undefined || typeof bytes.length !== 'number') return undefined;
	if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
	if (startsWith(bytes, JPEG_SOI_BYTES)) return 'jpeg';
	return undefined;
}

function readPngHeader(bytes: Uint8Array): ImageInfo {
	if (bytes.length < PNG_HEADER_LENGTH) {
		throw new ImageHeaderError(
			'truncated',
			`The PNG header is truncated: it needs ${PNG_HEADER_LENGTH} bytes and only ${bytes.length} ` +
				`were given`,
		);
	}
	if (readUint32(bytes, 8) !== 13 || !startsWith(bytes, IHDR_TYPE, 12)) {
		throw new ImageHeaderError(
			'corrupt',
			'The PNG is damaged: it does not start with its IHDR header chunk',
		);
	}
	// Without a checksum a flipped bit would silently give a wrong size; decoders reject it too.
	if (crc32(bytes, 12, 29) !== readUint32(bytes, 29)) {
		throw new ImageHeaderError(
			'corrupt',
			'The PNG is damaged: its IHDR header chunk fails its checksum',
		);
	}
	const width = readUint32(bytes, 16);
	const height = readUint32(bytes, 20);
	if (width === 0 || height === 0 || width > PNG_MAX_DIMENSION || height > PNG_MAX_DIMENSION) {
		throw new ImageHeaderError(
			'invalid-size',
			`The PNG header states an invalid size of ${width} × ${height} px`,
		);
	}
	return { format: 'png', width, height, mimeType: 'image/png', extension: 'png' };
}

/** How much of a file's end is read to find its end: a PNG's IEND chunk, a JPEG's EOI marker. */
export const TAIL_BYTES = 64 * 1024;

// An IEND chunk is always these 12 bytes: length 0, "IEND", and its CRC.
const PNG_IEND = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
const IDAT_TYPE = [0x49, 0x44, 0x41, 0x54];

/**
 * Why a file whose header reads well is still not a whole image, or undefined:
 * - a PNG must hold image data (an IDAT chunk) and end with its IEND chunk;
 * - a JPEG must reach its end marker (EOI) after its image data starts (jpegScanStart).
 * A header alone (or a file cut short) claims a size and holds no picture: Kling would be paid to
 * fail on it. `head` is the file's first bytes (those readImageHeader read), `tail` its last
 * TAIL_BYTES or fewer, `byteLength` the file's size. A JPEG's end marker is looked for in the tail
 * first; only when none is there does `endBeforeTail` say whether one lies between the scan start
 * and the tail, so data after the picture (a motion photo's video) is accepted however long it is.
 * A file cut short whose remains are followed by other data holding FF D9 cannot be told apart.
 * @see https://www.w3.org/TR/png-3/#5ChunkOrdering
 */
export function imageEndProblem(
	head: Uint8Array,
	tail: Uint8Array,
	byteLength: number,
	endBeforeTail: () => boolean = () => false,
): string | undefined {
	const tailStart = byteLength - tail.length;
	if (detectImageFormat(head) === 'png') {
		const noData = pngWithoutImageData(head, byteLength);
		if (noData) return noData;
		return indexOf(tail, PNG_IEND) < 0
			? `a PNG must end with its IEND chunk, and none is in its last ${tail.length} bytes: the ` +
					'file is cut short or damaged'
			: undefined;
	}
	const finder = new JpegEndFinder(jpegScanStart(head), tailStart);
	finder.push(tail);
	if (finder.found || endBeforeTail()) return undefined;
	return (
		'a JPEG must reach its end marker (EOI, FF D9) after its image data, and none follows it: ' +
		'the file is cut short or damaged; fetch or save it again'
	);
}

/**
 * Where a JPEG's entropy-coded data starts: just after its first scan header (SOS). That data
 * escapes every 0xFF as FF 00, so an FF D9 from here on is the end of the picture, and a file cut
 * short has none. Segments before it (an EXIF thumbnail's own end marker, tables) are skipped by
 * their lengths. When the scan header lies beyond `head`, the frame header's offset.
 * @see https://www.w3.org/Graphics/JPEG/itu-t81.pdf (B.1.1.5, B.2.3)
 */
export function jpegScanStart(head: Uint8Array): number {
	let frameAt: number;
	try {
		frameAt = walkJpegHeader(head).frameAt;
	} catch {
		return 0;
	}
	let offset = frameAt + 2;
	for (;;) {
		if (offset + 2 > head.length) return frameAt;
		const length = readUint16(head, offset);
		if (length < 2) return frameAt;
		offset += length;
		while (offset < head.length && head[offset] !== 0xff) offset++;
		while (offset < head.length && head[offset] === 0xff) offset++;
		if (offset >= head.length) return frameAt;
		const marker = head[offset++];
		if (marker === JPEG_SOS) {
			if (offset + 2 > head.length) return frameAt;
			return offset + readUint16(head, offset);
		}
		// A marker without a length before the scan: the file is odd, so keep the frame as the bound.
		if (marker === 0x00 || marker === JPEG_TEM || marker === JPEG_EOI || marker === JPEG_SOI)
			return frameAt;
		if (marker >= 0xd0 && marker <= 0xd7) return frameAt;
	}
}

/**
 * Looks for a JPEG's end marker (FF D9) at or after `from`, in a file's bytes given in order in
 * chunks of any size: a marker split between two chunks is found too. Nothing is copied.
 */
export class JpegEndFinder {
	/** Whether an FF D9 starting at or after `from` was seen. */
	found = false;

	private position: number;

	private previous = -1;

	/** `position` is the file offset of the first byte pushed. */
	constructor(
		private readonly from: number,
		position = 0,
	) {
		this.position = position;
	}

	push(chunk: Uint8Array): void {
		const start = this.position;
		this.position += chunk.length;
		if (this.found || chunk.length === 0) return;
		const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
		if (this.previous === 0xff && bytes[0] === JPEG_EOI && start - 1 >= this.from) {
			this.found = true;
			return;
		}
		this.previous = bytes[bytes.length - 1];
		// D9 is searched natively; most of a scan's bytes are passed over without a JavaScript step.
		for (let at = Math.max(1, this.from - start + 1); at < bytes.length; at++) {
			at = bytes.indexOf(JPEG_EOI, at);
			if (at < 0) return;
			if (bytes[at - 1] === 0xff) {
				this.found = true;
				return;
			}
		}
	}
}

/**
 * Why the PNG has no image data: its chunks, walked from the first, reach IEND or the file's end
 * before an IDAT. A walk that leaves the head before either is given the benefit of the doubt.
 */
function pngWithoutImageData(head: Uint8Array, byteLength: number): string | undefined {
	const none = 'a PNG must hold image data (an IDAT chunk), and this one has none';
	let at = PNG_SIGNATURE.length;
	while (at + 8 <= head.length) {
		if (startsWith(head, IDAT_TYPE, at + 4)) return undefined;
		if (startsWith(head, PNG_IEND.slice(4, 8), at + 4)) return `${none} before its end`;
		at += 12 + readUint32(head, at);
	}
	return at + 8 > byteLength ? none : undefined;
}

function indexOf(bytes: Uint8Array, sequence: readonly number[]): number {
	for (let at = 0; at + sequence.length <= bytes.length; at++)
		if (startsWith(bytes, sequence, at)) return at;
	return -1;
}

/** The JPEG's size, and where its frame header (SOF) starts. */
function walkJpegHeader(bytes: Uint8Array): { info: ImageInfo; frameAt: number } {
	const end = bytes.length;
	const truncated = () =>
		new ImageHeaderError(
			'truncated',
			`The JPEG header is truncated before its size marker (${end} bytes were given); ` +
				'the file may be incomplete',
		);

	// Every pass consumes at least the marker byte, so the walk ends within `end` steps.
	let offset = 2;
	for (;;) {
		// libjpeg and Pillow skip stray bytes between segments, so a file they open opens here.
		while (offset < end && bytes[offset] !== 0xff) offset++;
		// Any number of 0xFF fill bytes may precede a marker code (T.81 B.1.1.2).
		while (offset < end && bytes[offset] === 0xff) offset++;
		if (offset >= end) throw truncated();
		const marker = bytes[offset];
		const markerAt = offset - 1;
		offset++;

		// FF 00 is an escaped data byte, not a marker; TEM, RSTn and SOI carry no length.
		if (marker === 0x00 || marker === JPEG_TEM || marker === JPEG_SOI) continue;
		if (marker >= 0xd0 && marker <= 0xd7) continue;
		if (marker === JPEG_EOI) {
			throw new ImageHeaderError('missing-size', 'The JPEG ends before stating its size');
		}
		if (marker === JPEG_SOS) {
			throw new ImageHeaderError(
				'corrupt',
				'The JPEG is damaged: its image data starts before its size marker',
			);
		}

		if (offset + 2 > end) throw truncated();
		// The length counts itself, so skipping it from here lands on the next marker.
		const length = readUint16(bytes, offset);
		if (length < 2) {
			throw new ImageHeaderError(
				'corrupt',
				`The JPEG is damaged: the segment at byte ${markerAt} has an impossible length (${length})`,
			);
		}

		if (isStartOfFrame(marker)) {
			if (length < 8) {
				throw new ImageHeaderError(
					'corrupt',
					`The JPEG is damaged: its size marker at byte ${markerAt} is too short (${length} bytes)`,
				);
			}
			// Length (2), sample precision (1), height (2), width (2).
			if (offset + 7 > end) throw truncated();
			const height = readUint16(bytes, offset + 3);
			const width = readUint16(bytes, offset + 5);
			if (width === 0 || height === 0) {
				// Height 0 defers the size to a later DNL marker, which common decoders do not support.
				throw new ImageHeaderError(
					'invalid-size',
					`The JPEG size marker states an invalid size of ${width} × ${height} px`,
				);
			}
			const info: ImageInfo = {
				format: 'jpeg',
				width,
				height,
				mimeType: 'image/jpeg',
				extension: 'jpg',
			};
			return { info, frameAt: markerAt };
		}

		// Skipping whole segments by length keeps us out of an EXIF thumbnail's own SOF.
		offset += length;
	}
}

/** SOF0–SOF15 (C0–CF) minus the three codes in that range that are not frame headers. */
function isStartOfFrame(marker: number): boolean {
	const DHT = 0xc4;
	const JPG = 0xc8;
	const DAC = 0xcc;
	return marker >= 0xc0 && marker <= 0xcf && marker !== DHT && marker !== JPG && marker !== DAC;
}

/** Names common non-PNG/JPEG inputs, so the error says what was actually received. */
function describeOtherFormat(bytes: Uint8Array): string | undefined {
	const ascii = (from: number, to: number) =>
		String.fromCharCode(...Array.from(bytes.subarray(from, Math.min(to, bytes.length))));
	const head = ascii(0, 16);

	if (head.startsWith('GIF8')) return 'a GIF';
	if (head.startsWith('RIFF') && head.slice(8, 12) === 'WEBP') return 'a WebP';
	if (head.startsWith('BM')) return 'a BMP';
	if (head.startsWith('II*\0') || head.startsWith('MM\0*')) return 'a TIFF';
	if (head.startsWith('%PDF')) return 'a PDF';
	if (head.slice(4, 8) === 'ftyp') {
		const brand = head.slice(8, 12);
		if (brand === 'avif' || brand === 'avis') return 'an AVIF';
		if (['heic', 'heix', 'heim', 'heis', 'mif1', 'msf1'].includes(brand)) return 'a HEIC/HEIF';
	}
	// Base64 text of an image is a common mistake when the binary field holds the encoded string.
	if (head.startsWith('iVBORw0KGgo')) return 'base64 text of a PNG; decode it to binary first';
	if (head.startsWith('/9j/')) return 'base64 text of a JPEG; decode it to binary first';
	// An HTML or JSON body usually means the URL returned an error page instead of the image.
	const text = head.replace(/^\xEF\xBB\xBF/, '').trimStart();
	if (text.startsWith('<')) return 'an HTML, XML or SVG document (a web page or error page?)';
	if (text.startsWith('{') || text.startsWith('[')) return 'a JSON document (an API error?)';
	return undefined;
}

function hexPreview(bytes: Uint8Array): string {
	return Array.from(bytes.subarray(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join(' ');
}

function startsWith(bytes: Uint8Array, expected: readonly number[], at = 0): boolean {
	if (bytes.length < at + expected.length) return false;
	return expected.every((value, index) => bytes[at + index] === value);
}

function isProperPrefix(bytes: Uint8Array, signature: readonly number[]): boolean {
	return bytes.length < signature.length && bytes.every((byte, index) => byte === signature[index]);
}

function readUint16(bytes: Uint8Array, at: number): number {
	return (bytes[at] << 8) | bytes[at + 1];
}

function readUint32(bytes: Uint8Array, at: number): number {
	// Multiplying instead of shifting keeps values above 2^31 positive.
	return bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 as PNG defines it (ISO 3309, reflected polynomial 0xEDB88320) over bytes [from, to). */
function crc32(bytes: Uint8Array, from: number, to: number): number {
	if (!crcTable) {
		crcTable = new Uint32Array(256);
		for (let n = 0; n < 256; n++) {
			let c = n;
			for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
			crcTable[n] = c >>> 0;
		}
	}
	let crc = 0xffffffff;
	for (let i = from; i < to; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
	return (crc ^ 0xffffffff) >>> 0;
}
