import type { INodeProperties } from 'n8n-workflow';

import type { ImageInfo } from '../../shared/imageHeader';
import {
	IMAGE_LIMITS,
	MAX_AREA_MULTIPLIER,
	MAX_EXTERNAL_ID_LENGTH,
	MAX_IMAGES_PER_TASK,
	MAX_PROMPT_LENGTH,
	MAX_RATIO,
} from '../../shared/kling';
import { assertHttpUrl, ValidationError } from '../../shared/validationError';
import type { ExpansionRatios } from './ratios';

const megapixels = (pixels: number) => (pixels / 1e6).toFixed(1);

/** The image rules (IMAGE_LIMITS): size, shortest and longest side, pixel count, aspect. */
export function validateImage(
	info: ImageInfo,
	byteLength: number | undefined,
	field = 'image',
): void {
	if (byteLength !== undefined && byteLength > IMAGE_LIMITS.maxBytes) {
		throw new ValidationError(
			field,
			`${(byteLength / 1024 / 1024).toFixed(1)} MB`,
			`Kling accepts images up to ${IMAGE_LIMITS.maxBytes / 1024 / 1024} MB`,
			false,
		);
	}
	if (info.width < IMAGE_LIMITS.minSide || info.height < IMAGE_LIMITS.minSide) {
		throw new ValidationError(
			field,
			`${info.width}×${info.height} px`,
			`width and height must each be at least ${IMAGE_LIMITS.minSide} px`,
			false,
		);
	}
	if (info.width > IMAGE_LIMITS.maxSide || info.height > IMAGE_LIMITS.maxSide) {
		throw new ValidationError(
			field,
			`${info.width}×${info.height} px`,
			`width and height must each be at most ${IMAGE_LIMITS.maxSide} px`,
			false,
		);
	}
	if (info.width * info.height > IMAGE_LIMITS.maxPixels) {
		throw new ValidationError(
			field,
			`${info.width}×${info.height} px (${megapixels(info.width * info.height)} megapixels)`,
			`the image may have at most ${megapixels(IMAGE_LIMITS.maxPixels)} megapixels`,
			false,
		);
	}
	const aspect = info.width / info.height;
	if (aspect > IMAGE_LIMITS.maxAspect || aspect < 1 / IMAGE_LIMITS.maxAspect) {
		throw new ValidationError(
			field,
			`${info.width}×${info.height} px`,
			`the aspect ratio must be between 1:${IMAGE_LIMITS.maxAspect} and ${IMAGE_LIMITS.maxAspect}:1`,
			false,
		);
	}
}

const RATIO_FIELDS: Record<keyof ExpansionRatios, string> = {
	up: 'upExpansionRatio',
	down: 'downExpansionRatio',
	left: 'leftExpansionRatio',
	right: 'rightExpansionRatio',
};

/** Each ratio in [0, 2] and the new canvas at most 3× the original area. */
export function validateRatios(ratios: ExpansionRatios): void {
	for (const side of Object.keys(RATIO_FIELDS) as Array<keyof ExpansionRatios>) {
		const value = ratios[side];
		if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_RATIO) {
			throw new ValidationError(
				RATIO_FIELDS[side],
				value,
				`each expansion ratio must be a number between 0 and ${MAX_RATIO}`,
			);
		}
	}
	const area = (1 + ratios.left + ratios.right) * (1 + ratios.up + ratios.down);
	if (area > MAX_AREA_MULTIPLIER + 1e-9) {
		throw new ValidationError(
			'expansion ratios',
			`(1 + ${ratios.left} + ${ratios.right}) × (1 + ${ratios.up} + ${ratios.down}) = ` +
				`${area.toFixed(3)}× the original area`,
			`it must be at most ${MAX_AREA_MULTIPLIER}× the original area`,
			false,
			'The canvas these expansion ratios make',
		);
	}
	if (area === 1) {
		throw new ValidationError(
			'expansion ratios',
			0,
			'at least one side must be expanded',
			false,
			'Each expansion ratio',
		);
	}
}

/** The optional create fields: prompt length, image count, callback URL, external id length. */
export function validateOptions(options: {
	prompt?: string;
	n?: number;
	callbackUrl?: string;
	externalTaskId?: string;
}): void {
	if (options.prompt !== undefined && typeof options.prompt !== 'string') {
		throw new ValidationError('prompt', options.prompt, 'the prompt must be text');
	}
	if (options.prompt !== undefined && options.prompt.length > MAX_PROMPT_LENGTH) {
		throw new ValidationError(
			'prompt',
			options.prompt,
			`the prompt must be at most ${MAX_PROMPT_LENGTH} characters`,
		);
	}
	if (
		options.n !== undefined &&
		!(Number.isInteger(options.n) && options.n >= 1 && options.n <= MAX_IMAGES_PER_TASK)
	) {
		throw new ValidationError(
			'numberOfImages',
			options.n,
			`the number of images must be a whole number from 1 to ${MAX_IMAGES_PER_TASK}`,
		);
	}
	if (options.callbackUrl !== undefined && options.callbackUrl !== '')
		assertHttpUrl(options.callbackUrl, 'callbackUrl');
	// The trigger keeps no longer id, so a longer one would reach a workflow without its tag.
	if (
		options.externalTaskId !== undefined &&
		options.externalTaskId.length > MAX_EXTERNAL_ID_LENGTH
	) {
		throw new ValidationError(
			'externalTaskId',
			options.externalTaskId,
			`an External Task ID must be at most ${MAX_EXTERNAL_ID_LENGTH} characters`,
		);
	}
}

/**
 * Options an expression may have set to anything: each number option must be a finite number, each
 * text option text. Bounds come from the field's own typeOptions: a field whose minimum is above 0
 * needs a positive number (below the panel's minimum the code clamps, as tests of fast timings
 * rely on), one whose minimum is 0 a number of at least 0, and none may exceed its maximum. Checked
 * before any request, so a NaN Timeout or an object Concurrency costs nothing.
 */
export function validateOptionTypes(
	options: Record<string, unknown>,
	fields: INodeProperties[],
): void {
	for (const field of fields) {
		const value = options[field.name];
		if (value === undefined) continue;
		const shown = typeof value === 'object' && value !== null ? JSON.stringify(value) : value;
		if (field.type === 'string' && typeof value !== 'string')
			throw new ValidationError(field.name, shown, 'it must be text', false, field.displayName);
		if (field.type !== 'number') continue;
		const min = field.typeOptions?.minValue;
		const max = field.typeOptions?.maxValue;
		const positive = min !== undefined && min > 0;
		const rule =
			`it must be a number ${positive ? 'greater than 0' : min === 0 ? 'of at least 0' : ''}` +
			`${max !== undefined ? `${min !== undefined ? ' and' : ''} at most ${max}` : ''}`;
		if (
			typeof value !== 'number' ||
			!Number.isFinite(value) ||
			(positive && value <= 0) ||
			(min === 0 && value < 0) ||
			(max !== undefined && value > max)
		)
			throw new ValidationError(
				field.name,
				shown,
				rule.trimEnd(),
				typeof value === 'string',
				field.displayName,
			);
	}
}
