/**
 * The webhook lifecycle n8n runs when it activates a workflow, for a provider with nothing to
 * register: Kling takes the callback URL with each task, so the hooks only say "exists, created,
 * deleted". The Kling Expand node's resume webhook never goes through them (n8n registers no
 * restart webhooks), but n8n's community-package scanner asks every node that declares webhooks for
 * this lifecycle. (The trigger's lifecycle checks its verification: KlingExpandTrigger/activation.)
 */
export const nothingToRegister = {
	async checkExists(): Promise<boolean> {
		return true;
	},
	async create(): Promise<boolean> {
		return true;
	},
	async delete(): Promise<boolean> {
		return true;
	},
};
