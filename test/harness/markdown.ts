/** Fenced code blocks removed, so a `# comment` in a shell block is not read as a heading. */
export const withoutCodeBlocks = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');

/** The anchors npm (like GitHub) makes from a page's headings: lower case, spaces to dashes. */
export function headingAnchors(markdown: string): Set<string> {
	const anchors = new Set<string>();
	for (const [, heading] of withoutCodeBlocks(markdown).matchAll(/^#{1,6} (.+)$/gm))
		anchors.add(
			heading
				.trim()
				.toLowerCase()
				.replace(/[^\p{L}\p{N}\s_-]/gu, '')
				.replace(/\s/g, '-'),
		);
	return anchors;
}
