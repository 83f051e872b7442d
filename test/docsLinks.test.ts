import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { headingAnchors, withoutCodeBlocks } from './harness/markdown';

const ROOT = join(__dirname, '..');

/** The project's Markdown pages: the README, CONTRIBUTING, the changelog and docs/. */
const PAGES = [
	'README.md',
	'CONTRIBUTING.md',
	'CHANGELOG.md',
	...readdirSync(join(ROOT, 'docs'))
		.filter((name) => name.endsWith('.md'))
		.map((name) => `docs/${name}`),
].filter((page) => existsSync(join(ROOT, page)));

/** Every relative link and image of a page that does not lead to its file or heading. */
function brokenLinks(page: string): string[] {
	const markdown = withoutCodeBlocks(readFileSync(join(ROOT, page), 'utf8'));
	const broken: string[] = [];
	for (const [, target] of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
		if (/^[a-z]+:/i.test(target)) continue;
		const [path, anchor] = target.split('#');
		const file = path ? join(ROOT, dirname(page), path) : join(ROOT, page);
		if (!existsSync(file)) broken.push(`${target} (no file ${relative(ROOT, file)})`);
		else if (anchor !== undefined && !headingAnchors(readFileSync(file, 'utf8')).has(anchor))
			broken.push(`${target} (no heading makes #${anchor})`);
	}
	return broken;
}

describe('Markdown links', () => {
	it.each(PAGES)('%s: every relative link leads to a file and heading that exist', (page) => {
		expect(brokenLinks(page)).toEqual([]);
	});
});
