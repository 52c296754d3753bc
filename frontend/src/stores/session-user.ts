/**
 * Who the browser is signed in as, for the stores that load a user's data: the id of the
 * signed-in user (null: nobody, or accounts off), kept up to date by the auth store.
 *
 * A request started for one user can answer after a sign-out or another user's sign-in has
 * reset the stores; its answer must not land in the next user's view. So a store notes
 * `requestedFor()` before a request and keeps the answer only when `stillFor(that)` is true.
 */
let current: string | null = null;

/** Called by the auth store whenever the signed-in user changes. */
export function setSessionUser(userId: string | null): void {
  current = userId;
}

/** The user a request made now is made for. */
export function requestedFor(): string | null {
  return current;
}

/** Whether an answer to a request made for `userId` may still be shown. */
export function stillFor(userId: string | null): boolean {
  return current === userId;
}
