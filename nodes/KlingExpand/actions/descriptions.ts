import type { INodeProperties } from 'n8n-workflow';

import { defaultsOf, withDefaults } from '../../shared/descriptions';
import { IMAGE_LIMITS, MAX_IMAGES_PER_TASK, MAX_PROMPT_LENGTH } from '../../shared/kling';
import { expansionFields } from './expansion';
import { MAX_REUSE_HOURS } from '../tasks/reuse';

/**
 * Fields shared by Submit and Submit and Wait: the image, how to expand it, and what to ask for.
 */
export const createFields: INodeProperties[] = [
	{
		displayName: 'Image Source',
		name: 'imageSource',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Binary Data',
				value: 'binary',
				description:
					'A file on the incoming item, e.g. from Read File, HTTP Request or Google Drive',
			},
			{ name: 'URL', value: 'url', description: 'A public http(s) link Kling can download' },
			{
				name: 'Base64',
				value: 'base64',
				description: 'The image as base64 text (a data: prefix is removed)',
			},
		],
		default: 'binary',
	},
	{
		displayName: 'Input Binary Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		displayOptions: { show: { imageSource: ['binary'] } },
		description: 'The name of the binary field that holds the image (PNG or JPEG)',
	},
	{
		displayName: 'Image URL',
		name: 'imageUrl',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'https://example.com/photo.jpg',
		displayOptions: { show: { imageSource: ['url'] } },
		description:
			`A PNG or JPEG, at most ${IMAGE_LIMITS.maxBytes / 1024 / 1024} MB, at least ` +
			`${IMAGE_LIMITS.minSide} and at most ${IMAGE_LIMITS.maxSide} px on each side, aspect ` +
			`between 1:${IMAGE_LIMITS.maxAspect} and ${IMAGE_LIMITS.maxAspect}:1`,
	},
	{
		displayName: 'Image (Base64)',
		name: 'imageBase64',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		required: true,
		displayOptions: { show: { imageSource: ['base64'] } },
		description: 'A PNG or JPEG encoded as base64',
	},
	...expansionFields,
	{
		displayName: 'Prompt',
		name: 'prompt',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		placeholder: 'e.g. a sunny beach continues to the horizon',
		description: `What the new areas should show (optional, up to ${MAX_PROMPT_LENGTH} characters)`,
	},
	{
		displayName: 'Number of Images',
		name: 'numberOfImages',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: MAX_IMAGES_PER_TASK },
		default: 1,
		description:
			`How many variants to generate (1–${MAX_IMAGES_PER_TASK}). Each one holds one of the ` +
			"account's concurrency slots while it runs.",
	},
	{
		displayName: 'Dry Run',
		name: 'dryRun',
		type: 'boolean',
		// Read from the first item for the whole run, like Wait Mode: no per-item expression.
		noDataExpression: true,
		default: false,
		description:
			'Whether to only read and check the image and output what would be sent (the four ratios, ' +
			'where the original sits, the expected canvas size, n and every other field) without ' +
			'sending anything to Kling. Free, and needs no credential: use it to plan or preview.',
	},
];

/** How patient each request is: every operation that calls Kling has them. */
export const requestOptions: INodeProperties[] = [
	{
		displayName: 'Request Timeout (Seconds)',
		name: 'requestTimeout',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 30,
		description:
			'How long one request or download may take in all, however slowly the server answers, ' +
			'before it is cut off and retried',
	},
	{
		displayName: 'Retry Delay (Seconds)',
		name: 'retryDelay',
		type: 'number',
		typeOptions: { minValue: 0.01, numberPrecision: 2 },
		default: 1,
		description:
			'The first wait before retrying a rate-limited or failed request; it doubles on each retry',
	},
];

/** Options shared by Submit and Submit and Wait. */
export const createOptions: INodeProperties[] = [
	{
		displayName: 'Callback URL',
		name: 'callbackUrl',
		type: 'string',
		default: '',
		placeholder: 'https://your-n8n.example.com/webhook/…/kling-expand',
		description:
			'Kling POSTs the task here on every status change: paste the production URL of a Kling ' +
			'Expand Trigger',
	},
	{
		displayName: 'Concurrency',
		name: 'concurrency',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: 100 },
		default: 5,
		description:
			"How many images may be in progress at once: keep it at or below the account's concurrency " +
			'slots (one per image)',
	},
	{
		displayName: 'External Task ID',
		name: 'externalTaskId',
		type: 'string',
		default: '',
		description:
			'Your own ID for the task (at most 128 characters), unique in the account; Get Task can ' +
			'find the task by it. When empty, one is made for each item and kept for every try of the ' +
			'execution, so Retry On Fail never creates a task twice.',
	},
	...requestOptions,
	{
		displayName: 'Reuse Task for Same Input Within (Hours)',
		name: 'reuseWithinHours',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: MAX_REUSE_HOURS, numberPrecision: 2 },
		default: 0,
		description:
			'Off at 0. Otherwise, before paying for a task, the node looks for one it created within ' +
			'this many hours for exactly the same image and settings (in any execution) and takes it ' +
			'instead: after a crash, running the workflow again does not bill what the crashed run ' +
			'already paid for. Costs one list request per run. An image URL counts as the same input ' +
			'if the URL is the same.',
	},
	{
		displayName: 'Watermark',
		name: 'watermark',
		type: 'boolean',
		default: false,
		description: 'Whether Kling should also produce a watermarked copy of each image',
	},
];

export const CREATE_DEFAULTS = defaultsOf<{
	callbackUrl: string;
	concurrency: number;
	externalTaskId: string;
	reuseWithinHours: number;
	watermark: boolean;
	requestTimeout: number;
	retryDelay: number;
}>(createOptions);

/**
 * The wait options of Submit and Wait, in milliseconds, as poll and callback mode both read them.
 */
export function waitSettingsFrom(options: Partial<typeof WAIT_DEFAULTS>): {
	timeoutMs: number;
	minIntervalMs: number;
	maxIntervalMs: number;
} {
	const chosen = withDefaults(WAIT_DEFAULTS, options);
	const minIntervalMs = chosen.pollInterval * 1000;
	return {
		timeoutMs: chosen.timeout * 1000,
		minIntervalMs,
		maxIntervalMs: Math.max(minIntervalMs, chosen.maxPollInterval * 1000),
	};
}

/** How Submit and Wait waits: checks between the poll intervals, up to the timeout. */
export const waitOptions: INodeProperties[] = [
	{
		displayName: 'Poll Interval (Seconds)',
		name: 'pollInterval',
		type: 'number',
		typeOptions: { minValue: 0.05, numberPrecision: 2 },
		default: 1,
		description:
			'The shortest wait between two checks. Checks then space out as the task runs longer, up ' +
			'to the maximum.',
	},
	{
		displayName: 'Max Poll Interval (Seconds)',
		name: 'maxPollInterval',
		type: 'number',
		typeOptions: { minValue: 0.05, numberPrecision: 2 },
		default: 15,
		description: 'The longest wait between two checks',
	},
	{
		displayName: 'Timeout (Seconds)',
		name: 'timeout',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 600,
		description:
			'How long to wait for a task before giving up; the error names every unfinished task so ' +
			'Get Task can pick it up later',
	},
];

export const WAIT_DEFAULTS = defaultsOf<{
	pollInterval: number;
	maxPollInterval: number;
	timeout: number;
}>(waitOptions);
