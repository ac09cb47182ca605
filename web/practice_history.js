// Practice history, kept in this browser's localStorage only (nothing leaves the machine): one
// entry per finished session, the newest last, at most KEPT_SESSIONS.

export const HISTORY_KEY = "asl-practice-history";
export const KEPT_SESSIONS = 100;

/** The page's localStorage, or null where the browser refuses it (some block it with cookies). */
function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The stored sessions ([] when there are none, or storage is unavailable or unreadable). */
export function loadHistory() {
  try {
    const stored = JSON.parse(storage()?.getItem(HISTORY_KEY) ?? "[]");
    return Array.isArray(stored) ? stored : [];
  } catch {
    return [];
  }
}

/** Add a finished session's entry; the history, or null when it could not be stored (no
 * storage for this page, or it is full). */
export function saveSession(entry) {
  const history = [...loadHistory(), entry].slice(-KEPT_SESSIONS);
  try {
    storage().setItem(HISTORY_KEY, JSON.stringify(history));
    return history;
  } catch {
    return null;
  }
}

/** Forget every stored session. */
export function forgetHistory() {
  try {
    storage()?.removeItem(HISTORY_KEY);
  } catch {
    // nothing was stored where storage is refused
  }
}
