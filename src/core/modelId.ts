// Model ids end up in download URLs and cache paths, so the settings and the model store accept the same
// ids by the same rule: "name" or "owner/name", each part starting with a letter or digit, nothing that
// could walk a path.
const PART = /^[A-Za-z0-9][\w.-]*$/;

export function isHubModelId(id: string): boolean {
  const parts = id.split('/');
  return parts.length <= 2 && parts.every((part) => PART.test(part)) && !id.includes('..');
}

const REVISION_PART = /^[A-Za-z0-9_-][\w.-]*$/;

/**
 * A branch, tag or commit name: the settings, the CLI and the model store all check revisions here, because a
 * revision becomes a cache folder name. Parts follow git's ref rules (no '.'-leading part, no '..', no '.lock',
 * no trailing '.'), which also keeps '.', '..' and 'a/../b' from walking a path.
 */
export function isRevision(revision: string): boolean {
  const parts = revision.split('/');
  return revision.length <= 255 && !revision.endsWith('.') && parts.every((part) => REVISION_PART.test(part) && !part.includes('..') && !part.endsWith('.lock'));
}
