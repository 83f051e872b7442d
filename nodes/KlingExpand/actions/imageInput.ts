import type { IExecuteFunctions } from 'n8n-workflow';

import type { ImageInfo } from '../../shared/imageHeader';
import { HEADER_BYTES, ImageHeaderError, readImageHeader } from '../../shared/imageHeader';
import { IMAGE_LIMITS } from '../../shared/kling';
import { fetchBytes } from '../../shared/transport/download';
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
	 * rejects).
	 */
	bodyValue: () => Promise<string>;
	/** What a dry run shows for the `image` field: the URL, or a summary instead of the bytes. */
	preview: string;
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

function checkBytes(bytes: Buffer, field: string, byteLength?: number): ImageInfo {
	const header = readHeaderOrReason(bytes);
	if (typeof header === 'string')
		throw new ValidationError(field, `${bytes.length} bytes`, header, false);
	validateImage(header, byteLength, field);
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
		ctx.helpers.assertBinaryData(itemIndex, property);
		const bytes = await ctx.helpers.getBinaryDataBuffer(itemIndex, property);
		const info = checkBytes(bytes, `Input binary field "${property}"`, bytes.length);
		// Read again at send time rather than hold every item's base64 for the whole batch.
		return {
			info,
			preview: bytesPreview(info, bytes.length, `binary field "${property}"`),
			bodyValue: async () =>
				(await ctx.helpers.getBinaryDataBuffer(itemIndex, property)).toString('base64'),
		};
	}
	if (source === 'base64') {
		const text = ctx.getNodeParameter('imageBase64', itemIndex) as string;
		const bytes = decodeBase64Image(text, 'imageBase64');
		const info = checkBytes(bytes, 'imageBase64', bytes.length);
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
	// decided by the head.
	const fromHead = readHeaderOrReason(head.bytes);
	if (typeof fromHead !== 'string' || head.bytes.length < HEADER_BYTES)
		return { info: checkBytes(head.bytes, 'imageUrl'), bodyValue: async () => url, preview: url };
	const whole = await fetchBytes(ctx, url, {
		maxBytes: IMAGE_LIMITS.maxBytes,
		atLimit: 'fail',
		field: 'imageUrl',
		policy,
	});
	return {
		info: checkBytes(whole.bytes, 'imageUrl', whole.bytes.length),
		bodyValue: async () => url,
		preview: url,
	};
}
