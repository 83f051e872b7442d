import type { INodeProperties } from 'n8n-workflow';

/** How downloaded images are put on output items. */
export const downloadOptions: INodeProperties[] = [
	{
		displayName: 'Output Binary Field',
		name: 'binaryPropertyOutput',
		type: 'string',
		default: 'data',
		description: 'The binary field the downloaded images are put in',
	},
	{
		displayName: 'Images Output',
		name: 'imagesOutput',
		type: 'options',
		options: [
			{
				name: 'One Item per Image',
				value: 'itemPerImage',
				description: 'Each image on its own item, in the output binary field',
			},
			{
				name: 'All Images on One Item',
				value: 'oneItem',
				description:
					'One item per task, images in the output binary field suffixed _0, _1, … ' +
					'(data_0, data_1)',
			},
		],
		default: 'itemPerImage',
	},
	{
		displayName: 'Max Download Size (MB)',
		name: 'maxDownloadSize',
		type: 'number',
		typeOptions: { minValue: 0.001, numberPrecision: 3 },
		default: 50,
		description: 'A result image larger than this is refused instead of downloaded',
	},
];

/**
 * An option set's defaults, read from its fields: the panel and the code that falls back to them
 * cannot disagree.
 */
export function defaultsOf<T>(options: INodeProperties[]): T {
	return Object.fromEntries(options.map((option) => [option.name, option.default])) as T;
}

/**
 * The options the user set, and the defaults for the rest (an unset key, or one set to undefined).
 */
export function withDefaults<T extends object>(defaults: T, options: object): T {
	const given = options as Record<string, unknown>;
	return Object.fromEntries(
		Object.entries(defaults).map(([name, fallback]) => [name, given[name] ?? fallback]),
	) as T;
}

export const DOWNLOAD_DEFAULTS = defaultsOf<{
	binaryPropertyOutput: string;
	imagesOutput: string;
	maxDownloadSize: number;
}>(downloadOptions);
