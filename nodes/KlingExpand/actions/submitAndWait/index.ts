import type { INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { downloadOptions } from '../../../shared/descriptions';
import { createFields, createOptions, waitOptions } from '../descriptions';
import * as callbackWait from './callback';
import * as pollWait from './poll';

/**
 * Callback mode sets these itself (the resume URL, and ids its webhook can check against the signed
 * batch), so an option there would be ignored: it is not offered.
 */
const SET_BY_CALLBACK_MODE = new Set(['callbackUrl', 'externalTaskId']);

function hiddenInCallbackMode(option: INodeProperties): INodeProperties {
	if (!SET_BY_CALLBACK_MODE.has(option.name)) return option;
	return { ...option, displayOptions: { hide: { '/waitMode': ['callback'] } } };
}

const properties: INodeProperties[] = [
	...createFields,
	{
		displayName: 'Wait Mode',
		name: 'waitMode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Poll',
				value: 'poll',
				description:
					'Ask Kling until the tasks are done. Works anywhere; holds the execution open while it ' +
					'waits.',
			},
			{
				name: 'Callback (Resume)',
				value: 'callback',
				description:
					'Sleep the execution and resume it when Kling calls back. Holds no worker; n8n must be ' +
					'reachable from Kling at its public URL.',
			},
		],
		default: 'poll',
	},
	{
		displayName:
			'Kling must be able to reach this n8n at its public URL (set N8N_WEBHOOK_URL, formerly ' +
			'WEBHOOK_URL): the execution sleeps and resumes when Kling reports the last task of the ' +
			"run. If the wait times out, the items come out with wait_status 'timed_out' and their " +
			'task_id: fetch those with Get Task. Use Poll when n8n is not reachable from the internet.',
		name: 'callbackNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { waitMode: ['callback'] } },
	},
	{
		displayName: 'Download Images',
		name: 'downloadImages',
		type: 'boolean',
		default: true,
		description:
			'Whether to download the result images as binary data (Kling deletes them after 30 days)',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [...createOptions.map(hiddenInCallbackMode), ...waitOptions, ...downloadOptions].sort(
			(a, b) => a.displayName.localeCompare(b.displayName),
		),
	},
];

export const description = updateDisplayOptions(
	{ show: { operation: ['submitAndWait'] } },
	properties,
);

/**
 * Wait Mode Poll, the default (and what an AI agent's tool call runs): the router's item loop runs
 * this `execute` for each item, which submits it and polls until its task ends (poll.ts).
 */
export const execute = pollWait.execute;

/**
 * Wait Mode Callback (Resume): the router's item loop submits each item with this `execute`, then
 * hands the whole batch to `finish`, which puts the execution to sleep until Kling's callbacks
 * (callback.ts).
 */
export const callbackMode = { execute: callbackWait.execute, finish: callbackWait.finish };
