/**
 * The numeric GitHub user id that test payloads (webhooks.ts) and the GitHub double give a login,
 * so a webhook's `user.id` and the double's answers about that login agree. A stable hash of the
 * lower-cased login, in a range of its own (10,000,000 to 19,999,999); the double hands out ids
 * from another range to a login registered again after a rename (`renameUser`).
 */
export function userIdOf(login: string): number {
  let hash = 0x811c9dc5; // FNV-1a, 32 bits
  for (const char of login.toLowerCase()) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return 10_000_000 + (hash % 10_000_000);
}
