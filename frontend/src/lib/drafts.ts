/**
 * Unsent messages, one per chat (and one for the new chat), kept in localStorage so they
 * survive navigating between chats and reloading; cleared when the message is sent.
 */
const PREFIX = "sable-draft:";
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
