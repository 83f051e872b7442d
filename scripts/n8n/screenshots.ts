/**
 * `npm run screenshots`: the package as the n8n editor shows it, saved to docs/screenshots/.
 *
 * Same set-up as test:n8n (cached n8n, the packed package, the simulator, the example workflows), then
 * `n8n start` and Debian's Chromium (/usr/bin/chromium; `apt-get install -y chromium`) driven by
 * playwright-core: never a downloaded browser.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import type { Page } from 'playwright-core';

import {
	chooseOption,
	editorContext,
	launchChromium,
	openNode,
	openWorkflow,
	saveScreenshot,
	signIn,
} from './browser';
import { REPO_ROOT } from './config';
import { prepare, removeWorkDir, startServer, type Environment } from './environment';

const OUT_DIR = join(REPO_ROOT, 'docs', 'screenshots');

const log = (line: string) => console.log(`[screenshots] ${line}`);

async function main(): Promise<void> {
	mkdirSync(OUT_DIR, { recursive: true });
	let environment: Environment | undefined;
	const browser = await launchChromium();
	try {
		environment = await prepare(log, { forScreenshots: true });
		const server = await startServer(environment);
		log(`n8n ${server.url} ready`);
		const { workflows } = environment;

		for (const theme of ['light', 'dark'] as const) {
			const context = await editorContext(browser, theme);
			const page = await context.newPage();
			await signIn(page, server.url);
			const suffix = theme === 'dark' ? '-dark' : '';

			await openWorkflow(page, server.url, workflows.localImageToDisk.id);
			await save(page, `workflow-local-image-to-disk${suffix}`);
			await openWorkflow(page, server.url, workflows.triggerToSlack.id);
			await save(page, `workflow-trigger-to-slack${suffix}`);
			if (theme === 'dark') {
				await context.close();
				continue;
			}
			await openWorkflow(page, server.url, workflows.submitWithCallback.id);
			await save(page, 'workflow-submit-with-callback');
			await openNode(page, 'Submit Expansion');
			await save(page, 'node-submit-with-callback-url');

			await openWorkflow(page, server.url, workflows.localImageToDisk.id);
			await openNode(page, 'Expand to 16:9');
			await save(page, 'node-submit-and-wait-aspect-ratio');
			await chooseOption(page, 'Expansion Mode', 'Ratios per Side');
			await save(page, 'node-submit-and-wait-ratios');
			await chooseOption(page, 'Expansion Mode', 'Target Aspect Ratio');
			await chooseOption(page, 'Wait Mode', 'Callback (Resume)');
			await save(page, 'node-submit-and-wait-callback');

			await openWorkflow(page, server.url, workflows.triggerToSlack.id);
			await openNode(page, 'Kling Expand Trigger');
			// Inside the panel: the sticky note behind it says "Production URL" too.
			const panel = page.locator('[data-test-id="ndv"]');
			await panel.getByText('Webhook URLs', { exact: true }).first().click();
			await panel.getByText('Production URL', { exact: true }).first().click();
			await save(page, 'trigger-webhook-urls');

			await page.goto(`${server.url}/home/credentials`);
			await page.getByText('Kling simulator', { exact: true }).first().click();
			await page.getByText('Base URL Override').first().waitFor({ timeout: 15_000 });
			await save(page, 'credential-kling-api');
			await context.close();
		}
	} finally {
		await browser.close();
		await environment?.close();
		if (environment) removeWorkDir(environment);
	}
}

async function save(page: Page, name: string): Promise<void> {
	log(`saved ${await saveScreenshot(page, OUT_DIR, name)}`);
}

main().then(
	() => process.exit(0),
	(error: Error) => {
		console.error(error);
		process.exit(1);
	},
);
