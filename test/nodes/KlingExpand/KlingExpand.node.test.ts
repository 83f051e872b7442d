import type { INode, INodeParameters, INodeTypeDescription } from 'n8n-workflow';
import { NodeHelpers } from 'n8n-workflow';

import { loadPackage, NODE_TYPES } from '../../harness/engine';

async function descriptionOf(typeVersion: number): Promise<INodeTypeDescription> {
	const { nodeTypes } = await loadPackage();
	return nodeTypes.getByNameAndVersion(NODE_TYPES.expand, typeVersion).description;
}

function nodeWith(parameters: INodeParameters, typeVersion: number): INode {
	return {
		id: 'expand',
		name: 'Kling Expand',
		type: NODE_TYPES.expand,
		typeVersion,
		position: [0, 0],
		parameters,
	};
}

/** The parameters n8n resolves for a node saved with only `saved` (defaults filled in). */
async function resolved(saved: INodeParameters, typeVersion: number) {
	const description = await descriptionOf(typeVersion);
	const node = nodeWith(saved, typeVersion);
	return NodeHelpers.getNodeParameters(
		description.properties,
		saved,
		true,
		false,
		node,
		description,
	)!;
}

describe('KlingExpand node versions', () => {
	it('adds version 1.1 for new nodes and keeps version 1 for saved workflows', async () => {
		expect((await descriptionOf(1.1)).version).toEqual([1, 1.1]);
	});

	it('a saved version 1 aspect-ratio node resolves to the area multiplier it always used', async () => {
		expect(await resolved({ expansionMode: 'aspectRatio' }, 1)).toMatchObject({
			canvasArea: 'multiplier',
			areaMultiplier: 2,
			targetAspectRatio: '16:9',
			placement: 'center',
		});
	});

	it('a new version 1.1 node defaults to the smallest canvas', async () => {
		const parameters = await resolved({ expansionMode: 'aspectRatio' }, 1.1);
		expect(parameters.canvasArea).toBe('smallest');
		expect(parameters.areaMultiplier).toBeUndefined();
	});
});

describe('KlingExpand credential', () => {
	it.each<[string, string[], INodeParameters]>([
		['Submit', ['klingApi'], { operation: 'submit' }],
		['Submit, Dry Run', [], { operation: 'submit', dryRun: true }],
		['Submit and Wait, Dry Run', [], { operation: 'submitAndWait', dryRun: true }],
		['Get Task', ['klingApi'], { operation: 'getTask' }],
	])('%s needs the credentials %j', async (_, expected, saved) => {
		const description = await descriptionOf(1.1);
		const node = nodeWith(await resolved(saved, 1.1), 1.1);
		expect([...(NodeHelpers.getActiveCredentialTypes(node, description) ?? [])]).toEqual(expected);
	});
});

describe('KlingExpand run-wide fields', () => {
	it.each(['waitMode', 'dryRun'])(
		'%s is read from the first item for the whole run, so it takes no per-item expression',
		async (name) => {
			const description = await descriptionOf(1.1);
			const field = description.properties.find((property) => property.name === name);
			expect(field?.noDataExpression).toBe(true);
		},
	);
});
