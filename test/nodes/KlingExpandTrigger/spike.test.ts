import { capturedLogs, NODE_TYPES } from '../../harness/engine';
import { serveTrigger } from '../../harness/webhooks';
import { SIMULATOR_DEFAULT_KEYS, signStandardWebhook } from '../../simulator';

it('spike', async () => {
	const spec = { nodes: [{ id: 't', name: 'Trigger', type: NODE_TYPES.trigger, typeVersion: 1, position: [0, 0] as [number, number], parameters: {}, webhookId: 'abc', credentials: { klingApi: { id: '1', name: 'K' } } }], connections: {} };
	const server = await serveTrigger(spec, 'Trigger', { klingApi: { webhookSecret: SIMULATOR_DEFAULT_KEYS.webhookSecret } });
	const body = JSON.stringify({ task_id: 't1', task_status: 'succeed', task_info: { external_task_id: 'e' } });
	const ts = String(Math.floor(Date.now() / 1000));
	const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': 'm1', 'webhook-timestamp': ts, 'webhook-signature': signStandardWebhook(SIMULATOR_DEFAULT_KEYS.webhookSecret, 'm1', ts, body) }, body });
	console.log(res.status, await res.text(), server.url);
	const runs = await server.waitForRuns(1, 2000);
	console.log(runs.length, JSON.stringify(runs[0]?.output('Trigger')), runs[0]?.error);
	console.log(capturedLogs);
	await server.close();
});
