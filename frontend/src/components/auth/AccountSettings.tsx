/**
 * The Account page's self-service sections (issues 21.5, 25.10): display name, password,
 * signed-in devices (revoke one, sign out everywhere), export of all my data, and deleting
 * the account after entering the password again (with the export offered first).
 */
import { Download, Laptop, LogOut, Shield, Trash2, UserRound } from "lucide-react";
import { type FormEvent, type ReactNode, useEffect, useState } from "react";
import { useNavigate } from "react-router";
import { ApiError } from "@/api/client";
import { authApi, type AuthUser, type SignIn } from "@/api/auth";
import { humanError } from "@/lib/errors";
import { relativeTime } from "@/lib/format";
import { useAuth } from "@/stores/auth";
import { toast, toastError } from "@/stores/toasts";
import { ConfirmDialog, Dialog } from "../ui/Dialog";

const MAX_NAME = 120;
const MIN_PASSWORD = 10;

function Section({ id, title, icon, children }: { id: string; title: string; icon: ReactNode; children: ReactNode }) {
  return (
    <section aria-labelledby={id} className="card space-y-3">
      <h2 id={id} className="flex items-center gap-2 text-base font-semibold">
        {icon} {title}
      </h2>
      {children}
    </section>
  );
}

/** The server's sentence for a field error, or a general one. */
function fieldMessage(e: unknown): string {
  return e instanceof ApiError && e.status === 422 ? e.message.replace(/^Invalid request:\s*/, "") : humanError(e).message;
}

function ProfileSection({ user }: { user: AuthUser }) {
  const [name, setName] = useState(user.display_name ?? "");
  const [busy, setBusy] = useState(false);
  const onSave = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const updated = await authApi.updateProfile(name);
      useAuth.setState({ user: { ...user, ...updated, role: user.role } });
      toast.success("Name saved");
    } catch (err) {
      toastError("Could not save the name", err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section id="display-name" title="Display name" icon={<UserRound size={16} aria-hidden />}>
      <form className="flex flex-col gap-2 sm:flex-row" onSubmit={(e) => void onSave(e)} aria-label="Display name">
        <label htmlFor="account-display-name" className="sr-only">
          Display name
        </label>
        <input
          id="account-display-name"
          className="input"
          value={name}
          maxLength={MAX_NAME}
          placeholder="How Sable greets you"
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="btn-primary shrink-0" disabled={busy || name.trim() === (user.display_name ?? "")}>
          Save name
        </button>
      </form>
    </Section>
  );
}

function PasswordSection() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    if (next.length < MIN_PASSWORD) {
      setError(`The new password needs at least ${MIN_PASSWORD} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await authApi.changePassword(current, next);
      setCurrent("");
      setNext("");
      toast.success("Password changed", "Every other device was signed out.");
    } catch (err) {
      setError(fieldMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section id="change-password" title="Password" icon={<Shield size={16} aria-hidden />}>
      <form className="space-y-2" onSubmit={(e) => void onSubmit(e)} aria-label="Change password" noValidate>
        <label className="block text-sm">
          Current password
          <input className="input mt-1" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
        </label>
        <label className="block text-sm">
          New password
          <input className="input mt-1" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />
        </label>
        <p className="text-xs text-zinc-500">At least {MIN_PASSWORD} characters and not a commonly used password. Your other devices will be signed out.</p>
        {error && (
          <p role="alert" className="text-sm text-red-600 dark:text-red-400" data-testid="password-error">
            {error}
          </p>
        )}
        <button type="submit" className="btn-primary" disabled={busy || !current || !next}>
          Change password
        </button>
      </form>
    </Section>
  );
}

/** A short device label from a User-Agent ("Chrome on Android"). */
export function deviceLabel(userAgent: string | null | undefined): string {
  if (!userAgent) return "Unknown device";
  const ua = userAgent;
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : null;
  const os = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : null;
  if (browser && os) return `${browser} on ${os}`;
  return browser ?? os ?? ua.slice(0, 60);
}

function SignInsSection() {
  const navigate = useNavigate();
  const [signIns, setSignIns] = useState<SignIn[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [confirmAll, setConfirmAll] = useState(false);
  useEffect(() => {
    let live = true;
    authApi
      .listSignIns()
      .then((list) => live && setSignIns(list))
      .catch((e: unknown) => live && setLoadError(humanError(e).message));
    return () => {
      live = false;
    };
  }, []);
  const onRevoke = async (s: SignIn) => {
    try {
      await authApi.revokeSignIn(s.id);
      setSignIns((list) => (list ?? []).filter((x) => x.id !== s.id));
      toast.success("Device signed out");
    } catch (err) {
      toastError("Could not sign that device out", err);
    }
  };
  const onAll = async () => {
    setConfirmAll(false);
    try {
      await authApi.logoutAll();
      useAuth.getState().expire("You signed out everywhere. Sign in again to continue.");
      void navigate("/sign-in", { replace: true });
    } catch (err) {
      toastError("Could not sign out everywhere", err);
    }
  };
  return (
    <Section id="sign-ins" title="Where you're signed in" icon={<Laptop size={16} aria-hidden />}>
      {loadError && (
        <p role="alert" className="text-sm text-red-600 dark:text-red-400">
          Could not load your sign-ins: {loadError}
        </p>
      )}
      {signIns === null && !loadError && <p className="text-sm text-zinc-500">Loading…</p>}
      {signIns && (
        <ul className="divide-y divide-zinc-200 dark:divide-zinc-800" aria-label="Active sign-ins">
          {signIns.map((s) => (
            <li key={s.id} className="flex items-center gap-3 py-2" data-testid="sign-in-item">
              <div className="min-w-0 flex-1">
                <p className="truncate text-sm font-medium" title={s.user_agent ?? undefined}>
                  {deviceLabel(s.user_agent)}
                  {s.current && <span className="ml-2 rounded bg-emerald-100 px-1.5 py-0.5 text-xs text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200">This device</span>}
                </p>
                <p className="text-xs text-zinc-500">
                  Signed in {relativeTime(s.created_at)} · last seen {relativeTime(s.last_seen_at)}
                </p>
              </div>
              {!s.current && (
                <button type="button" className="btn-secondary shrink-0" onClick={() => void onRevoke(s)} aria-label={`Sign out ${deviceLabel(s.user_agent)}`}>
                  Sign out
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <button type="button" className="btn-secondary" onClick={() => setConfirmAll(true)}>
        <LogOut size={14} aria-hidden /> Sign out everywhere
      </button>
      <ConfirmDialog
        open={confirmAll}
        title="Sign out everywhere?"
        message="Every device, this one included, will have to sign in again."
        confirmLabel="Sign out everywhere"
        danger
        onConfirm={() => void onAll()}
        onCancel={() => setConfirmAll(false)}
      />
    </Section>
  );
}

/** Downloads everything of mine as one JSON file. */
async function downloadExport(): Promise<boolean> {
  try {
    const data = await authApi.exportData();
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `sable-export-${new Date().toISOString().slice(0, 10)}.json`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    return true;
  } catch (err) {
    toastError("Could not export your data", err);
    return false;
  }
}

function DataSection() {
  const navigate = useNavigate();
  const [exporting, setExporting] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const onExport = async () => {
    setExporting(true);
    if (await downloadExport()) toast.success("Export downloaded");
    setExporting(false);
  };
  const onDelete = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await authApi.deleteAccount(password);
      useAuth.getState().expire("Your account and everything in it were deleted.");
      void navigate("/sign-in", { replace: true });
    } catch (err) {
      setError(fieldMessage(err));
      setBusy(false);
    }
  };
  return (
    <Section id="your-data" title="Your data" icon={<Download size={16} aria-hidden />}>
      <p className="text-sm text-zinc-500">
        One JSON file with your profile, every chat and message, jobs with their answers, and the names of your keys, files and collections.
      </p>
      <div className="flex flex-wrap gap-2">
        <button type="button" className="btn-secondary" onClick={() => void onExport()} disabled={exporting}>
          <Download size={14} aria-hidden /> {exporting ? "Exporting…" : "Export my data"}
        </button>
        <button type="button" className="btn-danger" onClick={() => setDeleting(true)}>
          <Trash2 size={14} aria-hidden /> Delete account
        </button>
      </div>
      <Dialog open={deleting} onClose={() => setDeleting(false)} title="Delete your account?">
        <form className="space-y-3" onSubmit={(e) => void onDelete(e)} aria-label="Delete account">
          <p className="text-sm">
            This deletes your account and everything in it — chats, jobs, API keys, files — at once. It cannot be undone.
          </p>
          <button type="button" className="btn-secondary" onClick={() => void onExport()} disabled={exporting}>
            <Download size={14} aria-hidden /> {exporting ? "Exporting…" : "Export my data first"}
          </button>
          <label className="block text-sm">
            Enter your password to confirm
            <input
              className="input mt-1"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              data-testid="delete-password"
            />
          </label>
          {error && (
            <p role="alert" className="text-sm text-red-600 dark:text-red-400">
              {error}
            </p>
          )}
          <div className="flex justify-end gap-2">
            <button type="button" className="btn-secondary" onClick={() => setDeleting(false)}>
              Cancel
            </button>
            <button type="submit" className="btn-danger" disabled={busy || !password}>
              Delete my account
            </button>
          </div>
        </form>
      </Dialog>
    </Section>
  );
}

/** Everything below the profile card, for a signed-in user. */
export function AccountSettings({ user }: { user: AuthUser }) {
  return (
    <>
      <ProfileSection user={user} />
      <PasswordSection />
      <SignInsSection />
      <DataSection />
    </>
  );
}
