/**
 * Admin "Users" page (issue 25): every account, a form that creates one, disable / enable (a
 * disabled account's sign-ins and keys stop working at their next request), and a one-time
 * password reset link to hand over (the /reset-password page consumes it). Administrators
 * only: others get a sentence here (and 403 from the API).
 */
import { Copy, KeyRound, Plus, RefreshCw, UserCheck, UserX } from "lucide-react";
import { useEffect, useState } from "react";
import { adminUsersApi, type AuthUser, type ResetLink } from "@/api/auth";
import { ApiError, describeError } from "@/api/client";
import { useIsAdmin } from "@/hooks/use-is-admin";
import { copyText } from "@/lib/clipboard";
import { relativeTime } from "@/lib/format";
import { useAuth } from "@/stores/auth";
import { toast, toastError } from "@/stores/toasts";

/** The link of a reset, absolute (the API gives it relative to the site). */
function absolute(url: string): string {
  return new URL(url, window.location.origin).toString();
}

function NewUserForm({ onCreated }: { onCreated: (u: AuthUser) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<"user" | "admin">("user");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const made = await adminUsersApi.create({ email: email.trim(), password, display_name: name.trim() || null, role });
      onCreated(made);
      toast.success("User created", `${made.email} can sign in now.`);
      setEmail("");
      setPassword("");
      setName("");
      setRole("user");
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="new-user">
      <h3 id="new-user" className="text-sm font-semibold">
        New user
      </h3>
      <form
        className="mt-3 grid gap-3 sm:grid-cols-2"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label className="text-sm">
          <span className="mb-1 block font-medium">Email</span>
          <input className="input" type="email" required autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label className="text-sm">
          <span className="mb-1 block font-medium">Name (optional)</span>
          <input className="input" maxLength={100} autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="text-sm">
          <span className="mb-1 block font-medium">Initial password</span>
          <input className="input" type="password" required autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <label className="text-sm">
          <span className="mb-1 block font-medium">Role</span>
          <select className="input" value={role} onChange={(e) => setRole(e.target.value === "admin" ? "admin" : "user")}>
            <option value="user">User</option>
            <option value="admin">Administrator</option>
          </select>
        </label>
        {error && (
          <p role="alert" className="text-sm text-red-600 dark:text-red-400 sm:col-span-2">
            {error}
          </p>
        )}
        <div className="sm:col-span-2">
          <button type="submit" className="btn-primary" disabled={busy || !email.trim() || !password}>
            <Plus size={14} aria-hidden /> Create user
          </button>
        </div>
      </form>
    </section>
  );
}

function ResetLinkBox({ user, link, onClose }: { user: AuthUser; link: ResetLink; onClose: () => void }) {
  const url = absolute(link.url);
  const id = `reset-${user.id}`;
  return (
    <div className="mt-3 rounded-lg bg-amber-50 p-3 text-sm dark:bg-amber-950/40" data-testid="reset-link">
      <label htmlFor={id} className="block font-medium">
        Password reset link for {user.email}
      </label>
      <p className="text-xs text-zinc-600 dark:text-zinc-400">
        Shown once; it works once, until {new Date(link.expires_at).toLocaleString()}. Give it to the user by a channel you trust.
      </p>
      {/* On a phone the link takes the whole row, the buttons go under it. */}
      <div className="mt-2 flex flex-wrap gap-2">
        <input id={id} className="input min-w-0 flex-1 basis-full font-mono text-xs sm:basis-0" readOnly value={url} onFocus={(e) => e.target.select()} />
        <button
          type="button"
          className="btn-secondary shrink-0"
          onClick={() =>
            void copyText(url).then((ok) => (ok ? toast.success("Link copied") : toast.error("Could not copy", "Select the link and copy it.")))
          }
        >
          <Copy size={14} aria-hidden /> Copy
        </button>
        <button type="button" className="btn-secondary shrink-0" onClick={onClose}>
          Done
        </button>
      </div>
    </div>
  );
}

function UserRow({ user, self, onChanged }: { user: AuthUser; self: boolean; onChanged: (u: AuthUser) => void }) {
  const [busy, setBusy] = useState(false);
  const [link, setLink] = useState<ResetLink | null>(null);
  const disabled = Boolean(user.disabled_at);
  const label = user.display_name?.trim() || user.email;

  const run = async (what: string, call: () => Promise<void>) => {
    setBusy(true);
    try {
      await call();
    } catch (e) {
      toastError(what, e);
    } finally {
      setBusy(false);
    }
  };
  const toggle = () =>
    run(disabled ? "Could not enable the account" : "Could not disable the account", async () => {
      const next = disabled ? await adminUsersApi.enable(user.id) : await adminUsersApi.disable(user.id);
      onChanged(next);
      toast.success(disabled ? "Account enabled" : "Account disabled", disabled ? `${user.email} can sign in again.` : `${user.email} is signed out everywhere.`);
    });
  const reset = () =>
    run("Could not make a reset link", async () => {
      setLink(await adminUsersApi.resetLink(user.id));
    });

  return (
    <li className="card" data-testid="user-row" data-email={user.email} data-state={disabled ? "disabled" : "active"}>
      <div className="flex flex-wrap items-center gap-2">
        <div className="min-w-0 flex-1">
          <p className="truncate text-sm font-medium">
            {label}
            {self && <span className="ml-1 text-xs font-normal text-zinc-500">(you)</span>}
          </p>
          {label !== user.email && <p className="truncate text-xs text-zinc-500">{user.email}</p>}
        </div>
        <span className="rounded-full bg-zinc-100 px-2 py-0.5 text-xs dark:bg-zinc-800" data-testid="user-role">
          {user.role === "admin" ? "Administrator" : "User"}
        </span>
        <span
          className={`rounded-full px-2 py-0.5 text-xs font-medium ${
            disabled ? "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300" : "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300"
          }`}
          data-testid="user-state"
        >
          {disabled ? "Disabled" : "Active"}
        </span>
      </div>
      <div className="mt-2 flex flex-wrap items-center gap-2 text-xs text-zinc-500">
        <span>
          Joined <time dateTime={user.created_at}>{relativeTime(user.created_at)}</time>
        </span>
        {user.disabled_at && (
          <span>
            · disabled <time dateTime={user.disabled_at}>{relativeTime(user.disabled_at)}</time>
          </span>
        )}
        <span className="ml-auto flex gap-1">
          {!self && (
            <button type="button" className="btn-secondary px-2 py-1 text-xs" disabled={busy} onClick={() => void toggle()} aria-label={`${disabled ? "Enable" : "Disable"} ${user.email}`}>
              {disabled ? <UserCheck size={12} aria-hidden /> : <UserX size={12} aria-hidden />} {disabled ? "Enable" : "Disable"}
            </button>
          )}
          <button type="button" className="btn-secondary px-2 py-1 text-xs" disabled={busy} onClick={() => void reset()} aria-label={`Password reset link for ${user.email}`}>
            <KeyRound size={12} aria-hidden /> Reset link
          </button>
        </span>
      </div>
      {link && <ResetLinkBox user={user} link={link} onClose={() => setLink(null)} />}
    </li>
  );
}

export function UsersPage() {
  const isAdmin = useIsAdmin();
  const me = useAuth((s) => s.user?.id ?? null);
  const [users, setUsers] = useState<AuthUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState(false);

  // The list, read again on demand (Refresh); the first read starts with the page.
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!isAdmin) return;
    let live = true;
    adminUsersApi
      .list()
      .then((list) => {
        if (!live) return;
        setUsers(list);
        setError(null);
      })
      .catch((e: unknown) => {
        if (!live) return;
        if (e instanceof ApiError && (e.status === 403 || e.status === 404)) setForbidden(true);
        else setError(describeError(e));
      });
    return () => {
      live = false;
    };
  }, [isAdmin, generation]);

  const changed = (u: AuthUser) => setUsers((list) => (list ?? []).map((x) => (x.id === u.id ? u : x)));

  if (!isAdmin || forbidden) {
    return (
      <div className="p-6">
        <p className="text-sm text-zinc-500" data-testid="users-admin-only">
          Accounts are managed by administrators{forbidden && isAdmin ? " (this server has no accounts)" : ""}.
        </p>
      </div>
    );
  }
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-3xl space-y-4 p-4 sm:p-6">
        <div className="flex flex-wrap items-center justify-between gap-3">
          <div>
            <h2 className="text-base font-semibold">Users</h2>
            {users && (
              <p className="text-xs text-zinc-500" data-testid="users-count">
                {users.length} account{users.length === 1 ? "" : "s"}, {users.filter((u) => u.disabled_at).length} disabled
              </p>
            )}
          </div>
          <button type="button" className="btn-secondary" onClick={() => setGeneration((g) => g + 1)}>
            <RefreshCw size={14} aria-hidden /> Refresh
          </button>
        </div>
        <NewUserForm onCreated={(u) => setUsers((list) => [...(list ?? []), u])} />
        {error && (
          <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700 dark:bg-red-950/50 dark:text-red-300">
            {error}
          </p>
        )}
        {users === null && !error && (
          <p role="status" className="text-sm text-zinc-500">
            Loading…
          </p>
        )}
        {users && (
          <ul className="space-y-2" aria-label="Accounts">
            {users.map((u) => (
              <UserRow key={u.id} user={u} self={u.id === me} onChanged={changed} />
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}
