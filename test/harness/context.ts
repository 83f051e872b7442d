import type { IDataObject, IExecuteFunctions, INode, INodeExecutionData } from 'n8n-workflow';

/** The node a fake context answers getNode() with, unless a test names another type. */
export const FAKE_NODE: INode = {
	id: 'node-1',
	name: 'Kling Expand',
	type: 'n8n-nodes-kling-expand.klingExpand',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

/** What a unit test gives its fake context; each setting adds the members that answer it. */
export interface FakeContextSettings {
	/** getNode(): FAKE_NODE with these fields. */
	node?: Partial<INode>;
	/** getNodeParameter(name, itemIndex, fallback): the value, or the fallback when it is undefined. */
	parameters?: IDataObject;
	/** getInputData(): this many items `{ index }`, or these items. */
	items?: number | INodeExecutionData[];
	continueOnFail?: boolean;
	/** isToolExecution(). */
	tool?: boolean;
	/** getExecutionCancelSignal(), when the key is present (its value may be undefined). */
	signal?: AbortSignal;
	/** getCredentials(): these values for any credential. */
	credentials?: IDataObject;
	helpers?: Partial<IExecuteFunctions['helpers']>;
	/** Any other member, as given (e.g. getExecutionId, evaluateExpression, putExecutionToWait). */
	members?: Record<string, unknown>;
}

/**
 * The one fake n8n context of the unit tests: it holds only the members its settings name, and any
 * other member the code under test asks for fails the test with that member's name, so a test also
 * shows which parts of n8n the code relies on. Behaviour tests use the real engine instead
 * (engine.ts).
 */
export function fakeContext<Context extends object = IExecuteFunctions>(
	settings: FakeContextSettings = {},
): Context {
	const members: Record<string, unknown> = { getNode: () => ({ ...FAKE_NODE, ...settings.node }) };
	const { parameters, items } = settings;
	if (parameters)
		members.getNodeParameter = (name: string, _itemIndex: number, fallback?: unknown) =>
			parameters[name] ?? fallback;
	if (items !== undefined)
		members.getInputData = () =>
			typeof items === 'number'
				? Array.from({ length: items }, (_, index) => ({ json: { index } }))
				: items;
	if (settings.continueOnFail !== undefined) members.continueOnFail = () => settings.continueOnFail;
	if (settings.tool !== undefined) members.isToolExecution = () => settings.tool;
	if ('signal' in settings) members.getExecutionCancelSignal = () => settings.signal;
	if (settings.credentials) members.getCredentials = async () => settings.credentials;
	if (settings.helpers) members.helpers = settings.helpers;
	Object.assign(members, settings.members);
	return new Proxy(members, {
		get(target, name) {
			if (typeof name === 'string' && name in target) return target[name];
			// Asked by `await` and by jest's printing: not a use of the context.
			if (name === 'then' || typeof name === 'symbol') return undefined;
			throw new Error(`the context was asked for ${String(name)}`);
		},
	}) as unknown as Context;
}
