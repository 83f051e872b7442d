import type { IHookFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { configuredPlan, signingSecret } from './callbackSteps';
import { activationRefusal } from './helpers/verification';

/**
 * The webhook lifecycle n8n runs when it publishes the workflow (and when the editor listens for a
 * test event). Kling has nothing to register, since the callback URL travels with each task, so the
 * lifecycle only refuses a trigger that could verify no callback: every callback would get 401, with
 * the reason only in n8n's server log, while the editor showed the workflow as published. An error
 * thrown by `create` is what the editor shows when publishing fails.
 */
export const refuseUnverifiableTrigger = {
	/** Nothing is ever registered, so n8n always runs `create`, and with it the check. */
	async checkExists(): Promise<boolean> {
		return false;
	},
	async create(this: IHookFunctions): Promise<boolean> {
		const plan = configuredPlan(this);
		const secret = 'signature' in plan && plan.signature ? await signingSecret(this) : '';
		const refusal = activationRefusal(plan, secret);
		if (refusal)
			throw new NodeOperationError(this.getNode(), `Kling Expand Trigger: ${refusal}`, {
				description: 'Every callback would be refused (HTTP 401), so the trigger is not published.',
			});
		return true;
	},
	async delete(): Promise<boolean> {
		return true;
	},
};
