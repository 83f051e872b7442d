import type { INodeCredentialDescription, INodeProperties } from 'n8n-workflow';

import { downloadOptions } from '../shared/descriptions';
import { TASK_STATUSES } from '../shared/task';
import { PROVIDER_RESULT_HOSTS } from './helpers/downloadHosts';

/**
 * Header or query parameter that carries the shared token (for CometAPI deliveries, which we cannot
 * sign-check).
 */
export const TOKEN_HEADER = 'x-kling-token';

const version1 = { '@version': [1] };
const version2 = { '@version': [{ _cnd: { gte: 2 } }] };

/**
 * The credential holds the Callback Signing Secret: required whenever the signature is checked
 * (version 1 with Verify Kling Signature on, version 2 with Verification: Standard Webhooks
 * Signature), hidden otherwise.
 */
export const triggerCredentials: INodeCredentialDescription[] = [
	{
		name: 'klingApi',
		required: true,
		displayOptions: { hide: { verifySignature: [false], verification: ['token', 'none'] } },
	},
];

const verificationProperties: INodeProperties[] = [
	{
		displayName: 'Verification',
		name: 'verification',
		type: 'options',
		required: true,
		noDataExpression: true,
		displayOptions: { show: version2 },
		options: [
			{
				name: 'Standard Webhooks Signature',
				value: 'signature',
				description:
					'Accept only callbacks signed with the Callback Signing Secret of the credential ' +
					'(Kling direct)',
			},
			{
				name: 'Shared Token',
				value: 'token',
				description:
					`Accept only callbacks that carry a token you choose, in the URL (?token=…) ` +
					`or the ${TOKEN_HEADER} header (CometAPI)`,
			},
			{
				name: 'None (Anyone Who Knows the URL Can Start This Workflow)',
				value: 'none',
				description: 'Accept every callback. Downloads are limited to the result hosts you list.',
			},
		],
		default: 'signature',
		description: 'How the trigger tells a callback from Kling from one anybody else sends',
	},
	{
		displayName:
			'Only callbacks signed with the Callback Signing Secret of the chosen credential start the ' +
			'workflow. The credential must have that secret (whsec_… from the Kling console): without ' +
			'it, publishing the workflow is refused.',
		name: 'signatureNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { ...version2, verification: ['signature'] } },
	},
	{
		displayName: 'Shared Token',
		name: 'sharedToken',
		type: 'string',
		typeOptions: { password: true },
		required: true,
		default: '',
		displayOptions: { show: { ...version2, verification: ['token'] } },
		description:
			`The token a callback must carry in the URL (?token=…) or the ${TOKEN_HEADER} ` +
			`header. Without one every callback is refused.`,
	},
	{
		displayName:
			'Anyone who knows this URL can start this workflow with data of their choosing: nothing ' +
			'checks that a callback comes from Kling. Downloads are limited to the hosts in Download ' +
			'Only From Hosts.',
		name: 'unverifiedNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { ...version2, verification: ['none'] } },
	},
	{
		displayName: 'Verify Kling Signature',
		name: 'verifySignature',
		type: 'boolean',
		default: true,
		displayOptions: { show: version1 },
		description:
			'Whether to accept only callbacks signed with the Callback Signing Secret of the ' +
			'credential (Kling direct). Turned off, a Shared Token is required.',
	},
	{
		displayName: 'Shared Token',
		name: 'sharedToken',
		type: 'string',
		typeOptions: { password: true },
		default: '',
		displayOptions: { show: version1 },
		description:
			`When set, a callback must carry this token in the URL (?token=…) or the ` +
			`${TOKEN_HEADER} header`,
	},
	{
		displayName:
			'No check is set: publishing is refused, and every callback is refused (401), until you set ' +
			'a Shared Token or turn Verify Kling Signature on. To accept unverified callbacks, add a new ' +
			'Kling Expand Trigger and choose Verification: None.',
		name: 'noCheckNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { ...version1, verifySignature: [false], sharedToken: [''] } },
	},
];

const downloadProperties: INodeProperties[] = [
	{
		displayName: 'Download Images',
		name: 'downloadImages',
		type: 'boolean',
		default: false,
		description: 'Whether to download the result images of a succeeded task as binary data',
	},
	{
		displayName: 'Download Only From Hosts',
		name: 'downloadHosts',
		type: 'string',
		default: PROVIDER_RESULT_HOSTS.join(', '),
		displayOptions: { show: { ...version2, verification: ['none'], downloadImages: [true] } },
		placeholder: '*.klingai.com, images.example.com',
		description:
			'Unverified callbacks may name any URL, so images are downloaded only from these hosts ' +
			'(comma-separated; *.example.com for subdomains, host:port for one port). A task with ' +
			'images elsewhere starts the workflow without them, the reason in download_error.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		displayOptions: { show: { downloadImages: [true] } },
		options: downloadOptions,
	},
];

export const triggerProperties: INodeProperties[] = [
	{
		displayName:
			"Paste this node's Production URL (above) into the Callback URL option of a Kling Expand " +
			'node. Kling then reports every status change of those tasks here. With a Shared Token, ' +
			'add ?token=… to the URL.',
		name: 'notice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Statuses',
		name: 'statuses',
		type: 'multiOptions',
		options: TASK_STATUSES.map((status) => ({
			name: status[0].toUpperCase() + status.slice(1),
			value: status,
		})),
		default: ['succeed', 'failed'],
		description:
			'Which task statuses start the workflow; other deliveries are acknowledged and ignored',
	},
	...verificationProperties,
	...downloadProperties,
];
