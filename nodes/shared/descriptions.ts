import type { INodeProperties } from 'n8n-workflow';

/** The download options' defaults: the fields below show them, and code reading the options falls back to them. */
export const DOWNLOAD_DEFAULTS = { binaryPropertyOutput: 'data', imagesOutput: 'itemPerImage', maxDownloadSize: 50 };

/** How downloaded images are put on output items. */
export const downloadOptions: INodeProperties[] = [
	{
		displayName: 'Output Binary Field',
		name: 'binaryPropertyOutput',
		type: 'string',
		default: DOWNLOAD_DEFAULTS.binaryPropertyOutput,
		description: 'The binary field the downloaded images are put in',
	},
	{
		displayName: 'Images Output',
		name: 'imagesOutput',
		type: 'options',
		options: [
			{ name: 'One Item per Image', value: 'itemPerImage', description: 'Each image on its own item, in the output binary field' },
			{ name: 'All Images on One Item', value: 'oneItem', description: 'One item per task, images in the output binary field suffixed _0, _1, … (data_0, data_1)' },
		],
		default: DOWNLOAD_DEFAULTS.imagesOutput,
	},
	{
		displayName: 'Max Download Size (MB)',
		name: 'maxDownloadSize',
		type: 'number',
		typeOptions: { minValue: 0.001, numberPrecision: 3 },
		default: DOWNLOAD_DEFAULTS.maxDownloadSize,
		description: 'A result image larger than this is refused instead of downloaded',
	},
];
