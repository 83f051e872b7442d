import sharp from 'sharp';
import { KlingError } from './errors';
import type { ExpansionRatios } from './expand';
import type { ImageSize } from './types';

/** The documented create rules. @see /work/shared/reference/kling-expand-api.md "Create task: body" */
export const CREATE_LIMITS = {
	/** "≤ 10 MB", read as MiB: the stricter 10^6 reading is the client's choice to make. */
	maxImageBytes: 10 * 1024 * 1024,
	minImageSide: 300,
	maxAspect: 2.5,
	maxRatio: 2,
	maxAreaFactor: 3,
	maxPromptChars: 2500,
	maxImages: 9,
} as const;

/** A create body that passed every rule, with the image bytes loaded. */
export interface ExpandRequest {
	image: Buffer;
	sourceSize: ImageSize;
	ratios: ExpansionRatios;
	downRatioField: 'down_expansion_ratio' | 'bottom_expansion_ratio';
	n: number;
	watermark: boolean;
	callbackUrl?: string;
	/** '' when absent, as Kling echoes it. */
	externalTaskId: string;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const IMAGE_FETCH_TIMEOUT_MS = 10_000;

/** Cheap field checks first, the image last, so a bad ratio never costs a fetch or a decode. */
export async function validateCreateBody(body: unknown): Promise<ExpandRequest> {
	if (!body || typeof body !== 'object' || Array.isArray(body)) {
		throw new KlingError(1200, 'Request body must be a JSON object');
	}
	const fields = body as Record<string, unknown>;
	if (typeof fields.image !== 'string' || fields.image === '') invalid('image is required');

	const downRatioField =
		fields.down_expansion_ratio === undefined && fields.bottom_expansion_ratio !== undefined
			? 'bottom_expansion_ratio'
			: 'down_expansion_ratio';
	const ratios: ExpansionRatios = {
		up: readRatio(fields, 'up_expansion_ratio'),
		down: readRatio(fields, downRatioField),
		left: readRatio(fields, 'left_expansion_ratio'),
		right: readRatio(fields, 'right_expansion_ratio'),
	};
	const areaFactor = (1 + ratios.left + ratios.right) * (1 + ratios.up + ratios.down);
	if (areaFactor > CREATE_LIMITS.maxAreaFactor + 1e-9) {
		invalid(
			`expanded canvas is ${areaFactor.toFixed(4)}x the original area; ` +
				`(1+left+right)*(1+up+down) must not exceed ${CREATE_LIMITS.maxAreaFactor}`,
		);
	}

	if (fields.prompt !== undefined && fields.prompt !== null) {
		if (typeof fields.prompt !== 'string') invalid('prompt must be a string');
		const length = [...fields.prompt].length;
		if (length > CREATE_LIMITS.maxPromptChars) {
			invalid(
				`prompt has ${length} characters; at most ${CREATE_LIMITS.maxPromptChars} are allowed`,
			);
		}
	}
	const n = fields.n ?? 1;
	if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > CREATE_LIMITS.maxImages) {
		invalid(
			`n is ${JSON.stringify(n)}; it must be an integer between 1 and ${CREATE_LIMITS.maxImages}`,
		);
	}
	const watermark = readWatermark(fields.watermark_info);
	const callbackUrl = readOptionalString(fields, 'callback_url');
	if (callbackUrl !== undefined && !isHttpUrl(callbackUrl))
		invalid('callback_url must be an http(s) URL');
	const externalTaskId = readOptionalString(fields, 'external_task_id') ?? '';

	const image = await loadImageBytes(fields.image);
	const sourceSize = await checkImage(image);
	return { image, sourceSize, ratios, downRatioField, n, watermark, callbackUrl, externalTaskId };
}

function invalid(message: string): never {
	throw new KlingError(1201, message);
}

function readRatio(fields: Record<string, unknown>, name: string): number {
	const value = fields[name];
	if (value === undefined || value === null) invalid(`${name} is required`);
	if (typeof value !== 'number' || !Number.isFinite(value)) invalid(`${name} must be a number`);
	if (value < 0 || value > CREATE_LIMITS.maxRatio) {
		invalid(`${name} is ${value}; it must be between 0 and ${CREATE_LIMITS.maxRatio}`);
	}
	return value;
}

function readWatermark(value: unknown): boolean {
	if (value === undefined || value === null) return false;
	const enabled = (value as { enabled?: unknown }).enabled;
	if (typeof value !== 'object' || (enabled !== undefined && typeof enabled !== 'boolean')) {
		invalid('watermark_info must be {"enabled": boolean}');
	}
	return enabled === true;
}

function readOptionalString(fields: Record<string, unknown>, name: string): string | undefined {
	const value = fields[name];
	if (value === undefined || value === null || value === '') return undefined;
	if (typeof value !== 'string') invalid(`${name} must be a string`);
	return value;
}

function isHttpUrl(text: string): boolean {
	try {
		return ['http:', 'https:'].includes(new URL(text).protocol);
	} catch {
		return false;
	}
}

/** Kling takes a URL or raw base64; its doc says a `data:` prefix is wrong, so it is refused. */
async function loadImageBytes(image: string): Promise<Buffer> {
	if (/^data:/i.test(image)) invalid('image must be raw base64 without a "data:" prefix');
	const bytes = /^https?:\/\//i.test(image) ? await fetchLocalImage(image) : decodeBase64(image);
	if (bytes.length === 0) invalid('image is empty');
	if (bytes.length > CREATE_LIMITS.maxImageBytes) {
		invalid(
			`image is ${bytes.length} bytes; at most 10 MB (${CREATE_LIMITS.maxImageBytes} bytes) is allowed`,
		);
	}
	return bytes;
}

/** Two cheap scans instead of one anchored regex: inputs run to 14 MB of text. */
function decodeBase64(image: string): Buffer {
	const padding = image.indexOf('=');
	const wellFormed =
		!/[^A-Za-z0-9+/=]/.test(image) && (padding < 0 || /^={1,2}$/.test(image.slice(padding)));
	if (!wellFormed) invalid('image must be an http(s) URL or raw base64');
	return Buffer.from(image, 'base64');
}

/** The simulator must never reach the internet, so only loopback URLs are fetched. */
async function fetchLocalImage(url: string): Promise<Buffer> {
	if (!LOCAL_HOSTS.has(new URL(url).hostname)) {
		invalid(
			`image URL ${url} cannot be fetched: the simulator only fetches from 127.0.0.1 or localhost`,
		);
	}
	let response: Response;
	try {
		response = await fetch(url, { signal: AbortSignal.timeout(IMAGE_FETCH_TIMEOUT_MS) });
	} catch (error) {
		return invalid(`image URL ${url} could not be fetched: ${(error as Error).message}`);
	}
	if (!response.ok) invalid(`image URL ${url} answered HTTP ${response.status}`);
	return Buffer.from(await response.arrayBuffer());
}

/** Format by magic bytes (a renamed GIF must fail), then size and aspect from the header. */
async function checkImage(image: Buffer): Promise<ImageSize> {
	const isPng = image
		.subarray(0, 8)
		.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
	const isJpeg = image[0] === 0xff && image[1] === 0xd8 && image[2] === 0xff;
	if (!isPng && !isJpeg) invalid('image format must be JPG, JPEG or PNG');

	let width: number | undefined;
	let height: number | undefined;
	try {
		({ width, height } = await sharp(image).metadata());
	} catch {
		invalid('image cannot be decoded');
	}
	if (!width || !height) return invalid('image cannot be decoded');
	const { minImageSide, maxAspect } = CREATE_LIMITS;
	if (width < minImageSide || height < minImageSide) {
		invalid(`image is ${width}x${height}; width and height must be at least ${minImageSide} px`);
	}
	const aspect = width / height;
	if (aspect > maxAspect || aspect < 1 / maxAspect) {
		invalid(
			`image aspect ratio is ${aspect.toFixed(3)}; it must be between 1:${maxAspect} and ${maxAspect}:1`,
		);
	}
	return { width, height };
}
