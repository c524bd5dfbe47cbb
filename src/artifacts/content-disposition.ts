/**
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): the browser saves the download as
 * `fileName` instead of showing it. The quoted form is an ASCII fallback with `"`, `\` and control
 * or non-ASCII characters replaced by `_`, so a file name can never end the header value or add
 * another parameter; the `filename*` form carries the exact UTF-8 name.
 */
export function attachmentContentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
