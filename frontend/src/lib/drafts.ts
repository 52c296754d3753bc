/**
 * Unsent messages, one per chat (and one for the new chat), kept in localStorage so they
 * survive navigating between chats and reloading; cleared when the message is sent. They belong
 * to the user who wrote them (their id is stored beside them, see draftsForUser).
 */
const PREFIX = "sable-draft:";
/** The user the stored drafts belong to (absent: nobody). Not under PREFIX, so clearAllDrafts keeps it. */
export const DRAFTS_OWNER_KEY = "sable-drafts-owner";
/** The key of the new chat (no session yet). */
const NEW_CHAT = "new";

const key = (sessionId: string | null) => PREFIX + (sessionId ?? NEW_CHAT);

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null; // storage disabled (privacy settings): drafts live only as long as the page
  }
}

export function loadDraft(sessionId: string | null): string {
  return storage()?.getItem(key(sessionId)) ?? "";
}

export function saveDraft(sessionId: string | null, text: string): void {
  const s = storage();
  if (!s) return;
  try {
    if (text.trim()) s.setItem(key(sessionId), text);
    else s.removeItem(key(sessionId));
  } catch {
    /* quota exceeded: the draft stays in the box, just not across reloads */
  }
}

export function clearDraft(sessionId: string | null): void {
  storage()?.removeItem(key(sessionId));
}

/** Forgets every draft (signing out, or another user signing in on this browser). */
export function clearAllDrafts(): void {
  const s = storage();
  if (!s) return;
  for (const k of Object.keys(s)) if (k.startsWith(PREFIX)) s.removeItem(k);
}

/**
 * Keeps the drafts for `userId`, or forgets them when they were someone else's (or nobody's).
 * The owner is stored, so a sign-in by B after A's session lapsed without a sign-out (nobody in
 * memory to compare with) still forgets A's drafts; a reload by A keeps them.
 */
export function draftsForUser(userId: string | null): void {
  const s = storage();
  if (!s || s.getItem(DRAFTS_OWNER_KEY) === userId) return;
  clearAllDrafts();
  try {
    if (userId === null) s.removeItem(DRAFTS_OWNER_KEY);
    else s.setItem(DRAFTS_OWNER_KEY, userId);
  } catch {
    /* quota exceeded: the drafts are gone already, the next sign-in clears again */
  }
}
