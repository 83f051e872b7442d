import type { INode, INodeProperties } from 'n8n-workflow';
import { NodeHelpers } from 'n8n-workflow';

import { loadPackage, NODE_TYPES } from '../../../../harness/engine';
import { expandWorkflow } from '../../../../harness/workflows';

describe('Submit and Wait fields', () => {
	it('does not offer the Callback URL and External Task ID options in callback mode, which sets them itself', async () => {
		const { nodeTypes } = await loadPackage();
		const description = nodeTypes.getByNameAndVersion(NODE_TYPES.expand, 1).description;
		const options = description.properties.find(
			(property) =>
				property.name === 'options' &&
				property.displayOptions?.show?.operation?.includes('submitAndWait'),
		)!;
		const shownOptions = (waitMode: string) => {
			const parameters = { operation: 'submitAndWait', waitMode };
			const node = { ...expandWorkflow(parameters).nodes[0], parameters } as INode;
			return (options.options as INodeProperties[])
				.filter((option) => NodeHelpers.displayParameter({}, option, node, description, parameters))
				.map((option) => option.name);
		};
		expect(shownOptions('poll')).toEqual(
			expect.arrayContaining(['callbackUrl', 'externalTaskId', 'timeout']),
		);
		expect(shownOptions('callback')).toContain('timeout');
		expect(shownOptions('callback')).not.toContain('callbackUrl');
		expect(shownOptions('callback')).not.toContain('externalTaskId');
	});
});
