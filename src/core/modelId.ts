// Model ids end up in download URLs and cache paths, so the settings and the model store accept the same
// ids by the same rule: "name" or "owner/name", each part starting with a letter or digit, nothing that
// could walk a path.
const PART = /^[A-Za-z0-9][\w.-]*$/;

export function isHubModelId(id: string): boolean {
  const parts = id.split('/');
  return parts.length <= 2 && parts.every((part) => PART.test(part)) && !id.includes('..');
}
