import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { MAX_AREA_MULTIPLIER, MAX_RATIO } from '../../shared/kling';
import type { ExpansionRequest } from '../helpers/expansionPlan';
import type { ExpansionRatios, Placement, PlacementName } from '../helpers/ratios';
import { customPlacement, parseAspectRatio, parseCanvasSize, PLACEMENTS } from '../helpers/ratios';

const SIDES = ['up', 'down', 'left', 'right'] as const;
const capitalised = (side: string) => `${side[0].toUpperCase()}${side.slice(1)}`;

const inModes = (...expansionMode: string[]) => ({ show: { expansionMode } });

/** The shapes users name most; the free-text field stays for any other. */
const ASPECT_PRESETS = [
	{ name: 'Custom (Type It Below)', value: 'custom' },
	{ name: '1:1 Square (Feed Post)', value: '1:1' },
	{ name: '4:5 Portrait (Instagram, Facebook Feed)', value: '4:5' },
	{ name: '9:16 Vertical (Story, Reel, TikTok, Shorts)', value: '9:16' },
	{ name: '16:9 Landscape (YouTube, Web, Slides)', value: '16:9' },
	{ name: '1.91:1 Link and Ad Image (1200×628)', value: '1.91:1' },
	{ name: '2:3 Pin (Pinterest)', value: '2:3' },
	{ name: '3:2 Photo', value: '3:2' },
	{ name: '4:3 Classic Photo', value: '4:3' },
	{ name: '3:4 Portrait Photo', value: '3:4' },
	{ name: '21:9 Ultra-Wide Banner', value: '21:9' },
];

const PLACEMENT_OPTIONS: Array<{ name: string; value: PlacementName | 'custom' }> = [
	{ name: 'Centre', value: 'center' },
	{ name: 'Top Edge (Centred)', value: 'top' },
	{ name: 'Bottom Edge (Centred)', value: 'bottom' },
	{ name: 'Left Edge (Centred)', value: 'left' },
	{ name: 'Right Edge (Centred)', value: 'right' },
	{ name: 'Top Left Corner', value: 'topLeft' },
	{ name: 'Top Right Corner', value: 'topRight' },
	{ name: 'Bottom Left Corner', value: 'bottomLeft' },
	{ name: 'Bottom Right Corner', value: 'bottomRight' },
	{ name: 'Custom Position', value: 'custom' },
];

const canvasAreaField = (defaultArea: 'multiplier' | 'smallest', versions: unknown[]) =>
	({
		displayName: 'Canvas Area',
		name: 'canvasArea',
		type: 'options',
		options: [
			{
				name: 'Smallest That Fits',
				value: 'smallest',
				description:
					'Grow only as much as the shape needs: 4:3 to 16:9 adds only the sides (4/3 of the area)',
			},
			{
				name: 'Area Multiplier',
				value: 'multiplier',
				description: 'Set the new area as a multiple of the original (1–3)',
			},
		],
		default: defaultArea,
		displayOptions: { show: { expansionMode: ['aspectRatio'], '@version': versions } },
		description: 'How big the new canvas is',
	}) as INodeProperties;

/** Expansion Mode and the fields of each mode, for Submit and Submit and Wait. */
export const expansionFields: INodeProperties[] = [
	{
		displayName: 'Expansion Mode',
		name: 'expansionMode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Target Aspect Ratio',
				value: 'aspectRatio',
				description: 'Grow the canvas to a shape, e.g. 16:9, with the original where you place it',
			},
			{
				name: 'Canvas Size in Pixels',
				value: 'canvasSize',
				description:
					'Grow the canvas to a size such as 1200x628, with the original where you place it',
			},
			{
				name: 'Pixels per Side',
				value: 'pixels',
				description: 'Say how many pixels to add on each side',
			},
			{
				name: 'Ratios per Side',
				value: 'ratios',
				description: 'Say how far to grow each side, as a multiple of the original',
			},
		],
		default: 'aspectRatio',
	},
	{
		displayName: 'Aspect Ratio Preset',
		name: 'aspectRatioPreset',
		type: 'options',
		options: ASPECT_PRESETS,
		default: 'custom',
		displayOptions: inModes('aspectRatio'),
		description:
			'A common social or ad shape, or Custom to type any width:height in Target Aspect Ratio',
	},
	{
		displayName: 'Target Aspect Ratio',
		name: 'targetAspectRatio',
		type: 'string',
		default: '16:9',
		placeholder: '16:9',
		displayOptions: { show: { expansionMode: ['aspectRatio'], aspectRatioPreset: ['custom'] } },
		description:
			'Width:height of the new canvas, such as 16:9, 9:16, 1:1, 4:5, 1.91:1, or a decimal such as ' +
			'1.7778',
	},
	// Existing nodes (version 1) keep the explicit multiplier; new ones grow only as much as needed.
	canvasAreaField('multiplier', [1]),
	canvasAreaField('smallest', [{ _cnd: { gte: 1.1 } }]),
	{
		displayName: 'Area Multiplier',
		name: 'areaMultiplier',
		type: 'number',
		typeOptions: { minValue: 1, maxValue: MAX_AREA_MULTIPLIER, numberPrecision: 2 },
		default: 2,
		displayOptions: { show: { expansionMode: ['aspectRatio'], canvasArea: ['multiplier'] } },
		description:
			`The new canvas area as a multiple of the original (1–${MAX_AREA_MULTIPLIER}). It must be at ` +
			'least what the shape needs to hold the original; the error names that minimum.',
	},
	{
		displayName: 'Canvas Size',
		name: 'canvasSize',
		type: 'string',
		default: '1200x628',
		placeholder: '1200x628',
		displayOptions: inModes('canvasSize'),
		description:
			'Width x height of the result in pixels, such as 1200x628, 1080x1920 or 1080x1080. Kling ' +
			'keeps the original at its size and adds at most 2× per side and 3× the area: when that ' +
			'reaches this size the result is exact, otherwise it has this shape and the output says ' +
			'what to resize (expansion.exact, expansion.note).',
	},
	{
		displayName: 'Placement',
		name: 'placement',
		type: 'options',
		options: PLACEMENT_OPTIONS,
		default: 'center',
		displayOptions: inModes('aspectRatio', 'canvasSize'),
		description:
			'Where the original sits on the new canvas; the new space goes to the other sides. Left ' +
			'Edge leaves all the new width on the right, e.g. room for text.',
	},
	...(['horizontal', 'vertical'] as const).map(
		(axis): INodeProperties => ({
			displayName: `${capitalised(axis)} Position`,
			name: `${axis}Position`,
			type: 'number',
			typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 3 },
			default: 0.5,
			displayOptions: {
				show: { expansionMode: ['aspectRatio', 'canvasSize'], placement: ['custom'] },
			},
			description:
				axis === 'horizontal'
					? 'Where the original sits across the canvas: 0 at the left edge, 0.5 centred, 1 at ' +
						'the right edge'
					: 'Where the original sits down the canvas: 0 at the top edge, 0.5 centred, 1 at the ' +
						'bottom edge (0.67 puts it in the bottom third)',
		}),
	),
	...SIDES.map(
		(side): INodeProperties => ({
			displayName: `${capitalised(side)} Pixels`,
			name: `${side}Pixels`,
			type: 'number',
			typeOptions: { minValue: 0, numberPrecision: 0 },
			default: 0,
			displayOptions: inModes('pixels'),
			description:
				`How many pixels to add ${side === 'up' ? 'above' : side === 'down' ? 'below' : `on the ${side}`} ` +
				`(whole pixels, at most ${MAX_RATIO}× the original ${side === 'up' || side === 'down' ? 'height' : 'width'}; ` +
				`the whole canvas may be at most ${MAX_AREA_MULTIPLIER}× the original area)`,
		}),
	),
	...SIDES.map(
		(side): INodeProperties => ({
			displayName: `${capitalised(side)} Expansion Ratio`,
			name: `${side}ExpansionRatio`,
			type: 'number',
			typeOptions: { minValue: 0, maxValue: MAX_RATIO, numberPrecision: 4 },
			default: 0.25,
			displayOptions: inModes('ratios'),
			description:
				`How far to grow the ${side} side, as a multiple of the original ` +
				`${side === 'up' || side === 'down' ? 'height' : 'width'} (0–${MAX_RATIO}; the whole canvas ` +
				`may be at most ${MAX_AREA_MULTIPLIER}× the original area)`,
		}),
	),
];

function placementOf(ctx: IExecuteFunctions, itemIndex: number): Placement {
	const name = ctx.getNodeParameter('placement', itemIndex, 'center') as PlacementName | 'custom';
	if (name === 'custom')
		return customPlacement(
			ctx.getNodeParameter('horizontalPosition', itemIndex, 0.5) as number,
			ctx.getNodeParameter('verticalPosition', itemIndex, 0.5) as number,
		);
	return PLACEMENTS[name] ?? PLACEMENTS.center;
}

const perSide = (ctx: IExecuteFunctions, itemIndex: number, suffix: string) =>
	Object.fromEntries(
		SIDES.map((side) => [side, ctx.getNodeParameter(`${side}${suffix}`, itemIndex) as number]),
	) as unknown as ExpansionRatios;

/** The item's Expansion Mode and its fields, read into plain values (parsed, not yet checked). */
export function expansionRequestOf(ctx: IExecuteFunctions, itemIndex: number): ExpansionRequest {
	const mode = ctx.getNodeParameter('expansionMode', itemIndex) as ExpansionRequest['mode'];
	switch (mode) {
		case 'aspectRatio': {
			const preset = ctx.getNodeParameter('aspectRatioPreset', itemIndex, 'custom') as string;
			const text =
				preset === 'custom'
					? (ctx.getNodeParameter('targetAspectRatio', itemIndex) as string)
					: preset;
			// Version 1 nodes saved before Canvas Area existed used the multiplier.
			const area = ctx.getNodeParameter('canvasArea', itemIndex, 'multiplier') as string;
			return {
				mode,
				aspect: parseAspectRatio(text),
				area:
					area === 'smallest'
						? 'smallest'
						: (ctx.getNodeParameter('areaMultiplier', itemIndex) as number),
				placement: placementOf(ctx, itemIndex),
			};
		}
		case 'canvasSize':
			return {
				mode,
				size: parseCanvasSize(ctx.getNodeParameter('canvasSize', itemIndex) as string),
				placement: placementOf(ctx, itemIndex),
			};
		case 'pixels':
			return { mode, pixels: perSide(ctx, itemIndex, 'Pixels') };
		default:
			return { mode: 'ratios', ratios: perSide(ctx, itemIndex, 'ExpansionRatio') };
	}
}
