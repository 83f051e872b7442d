import type {
	ICredentialDataDecryptedObject,
	INode,
	INodeExecutionData,
	INodeParameters,
} from 'n8n-workflow';

import { SIMULATOR_DEFAULT_KEYS } from '../simulator';
import type { WorkflowSpec } from './engine';
import { NODE_TYPES } from './engine';

export const EXPAND_NODE = 'Kling Expand';

/** Half as much canvas again, above: a valid expansion for tests about anything else. */
export const UP_RATIOS = {
	expansionMode: 'ratios',
	upExpansionRatio: 0.5,
	downExpansionRatio: 0,
	leftExpansionRatio: 0,
	rightExpansionRatio: 0,
};

/** A quarter more canvas above and below: a valid expansion for tests about anything else. */
export const UP_DOWN_RATIOS = {
	expansionMode: 'ratios',
	upExpansionRatio: 0.25,
	downExpansionRatio: 0.25,
	leftExpansionRatio: 0,
	rightExpansionRatio: 0,
};

/** A one-node workflow: the Kling Expand node with these parameters, fed directly by the test's items. */
export function expandWorkflow(
	parameters: INodeParameters,
	extra: Partial<INode> = {},
): WorkflowSpec {
	return {
		nodes: [
			{
				id: 'expand',
				name: EXPAND_NODE,
				type: NODE_TYPES.expand,
				typeVersion: 1,
				position: [0, 0],
				parameters,
				credentials: { klingApi: { id: '1', name: 'Kling' } },
				...extra,
			},
		],
		connections: {},
	};
}

export type AuthStyle = 'accessKey' | 'apiKey' | 'cometapi';

/** Credential data that points at the simulator, for each of the three ways to authenticate. */
export function simulatorCredentials(
	baseUrl: string,
	style: AuthStyle = 'accessKey',
	extra: ICredentialDataDecryptedObject = {},
): Record<string, ICredentialDataDecryptedObject> {
	const keys = SIMULATOR_DEFAULT_KEYS;
	const byStyle: Record<AuthStyle, ICredentialDataDecryptedObject> = {
		accessKey: {
			provider: 'kling',
			authMode: 'accessKey',
			accessKey: keys.accessKey,
			secretKey: keys.secretKey,
		},
		apiKey: { provider: 'kling', authMode: 'apiKey', apiKey: keys.apiKey },
		cometapi: { provider: 'cometapi', cometApiKey: keys.cometKey },
	};
	return { klingApi: { ...byStyle[style], baseUrl, webhookSecret: keys.webhookSecret, ...extra } };
}

/** An input item carrying an image as n8n binary data (inline, as n8n's default binary mode keeps it). */
export function binaryItem(
	bytes: Buffer,
	fileName = 'photo.png',
	mimeType = 'image/png',
	property = 'data',
): INodeExecutionData {
	return {
		json: { fileName },
		binary: { [property]: { data: bytes.toString('base64'), mimeType, fileName } },
	};
}
