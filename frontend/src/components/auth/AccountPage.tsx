import { Check, Copy, KeyRound, LogOut, Trash2 } from "lucide-react";
import { type FormEvent, useEffect, useState } from "react";
import { useNavigate } from "react-router";
import { type ApiKey, authApi, type NewApiKey } from "@/api/auth";
import { copyText } from "@/lib/clipboard";
import { humanError } from "@/lib/errors";
import { relativeTime } from "@/lib/format";
import { useAuth } from "@/stores/auth";
import { toast, toastError } from "@/stores/toasts";
import { ConfirmDialog } from "../ui/Dialog";
import { AccountSettings } from "./AccountSettings";

const MAX_KEY_NAME = 100;

function NewKeyNotice({ created, onDone }: { created: NewApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const onCopy = async () => {
    if (await copyText(created.key)) {
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } else toast.error("Copy failed", "Select the key and copy it by hand.");
  };
  return (
    <div
      role="status"
      data-testid="new-api-key"
      className="space-y-2 rounded-lg border border-emerald-300 bg-emerald-50 p-3 text-sm dark:border-emerald-800 dark:bg-emerald-950/40"
    >
      <p className="font-medium">Key “{created.name}” created. Copy it now: it will not be shown again.</p>
      <div className="flex items-center gap-2">
        <code className="min-w-0 flex-1 select-all break-all rounded bg-white px-2 py-1 font-mono text-xs dark:bg-zinc-900" data-testid="api-key-value">
          {created.key}
        </code>
        <button type="button" className="btn-secondary shrink-0" onClick={() => void onCopy()} aria-label="Copy API key">
          {copied ? <Check size={14} aria-hidden /> : <Copy size={14} aria-hidden />} {copied ? "Copied" : "Copy"}
        </button>
      </div>
      <button type="button" className="text-xs text-zinc-500 underline" onClick={onDone}>
        I have saved it
      </button>
    </div>
  );
}

function ApiKeys() {
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<NewApiKey | null>(null);
  const [pendingRevoke, setPendingRevoke] = useState<ApiKey | null>(null);

  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    authApi
      .listKeys()
      .then((ks) => {
        if (!live) return;
        setKeys(ks);
        setLoadError(null);
      })
      .catch((e: unknown) => live && setLoadError(humanError(e).message));
    return () => {
      live = false;
    };
  }, [attempt]);

  const onCreate = async (e: FormEvent) => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    setBusy(true);
    try {
      const k = await authApi.createKey(n);
      setCreated(k);
      setName("");
      const { key: _secret, ...listed } = k;
      setKeys((ks) => [listed, ...(ks ?? []).filter((x) => x.id !== k.id)]);
    } catch (err) {
      toastError("Could not create the key", err);
    } finally {
      setBusy(false);
    }
  };

  const onRevoke = async () => {
    const k = pendingRevoke;
    setPendingRevoke(null);
    if (!k) return;
    try {
      await authApi.revokeKey(k.id);
      setKeys((ks) => (ks ?? []).filter((x) => x.id !== k.id));
      if (created?.id === k.id) setCreated(null);
      toast.success("Key revoked");
    } catch (err) {
      toastError("Could not revoke the key", err);
    }
  };

  return (
    <section aria-labelledby="api-keys" className="card space-y-4">
      <div>
        <h2 id="api-keys" className="flex items-center gap-2 text-base font-semibold">
          <KeyRound size={16} aria-hidden /> API keys
        </h2>
        <p className="mt-1 text-sm text-zinc-500">
          For scripts and other clients: send <code className="font-mono text-xs">Authorization: Bearer &lt;key&gt;</code>.
        </p>
      </div>
      <form className="flex gap-2" onSubmit={(e) => void onCreate(e)} aria-label="Create API key">
        <label htmlFor="key-name" className="sr-only">
          Key name
        </label>
        <input
          id="key-name"
          className="input"
          placeholder="Key name, e.g. laptop script"
          value={name}
          maxLength={MAX_KEY_NAME}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="btn-primary shrink-0" disabled={busy || !name.trim()}>
          Create key
        </button>
      </form>
      {created && <NewKeyNotice created={created} onDone={() => setCreated(null)} />}
      {loadError && (
        <p role="alert" className="text-sm text-red-600 dark:text-red-400">
          Could not load your keys: {loadError}{" "}
          <button type="button" className="underline" onClick={() => setAttempt((n) => n + 1)}>
            Retry
          </button>
        </p>
      )}
      {keys === null && !loadError && <p className="text-sm text-zinc-500">Loading keys…</p>}
      {keys?.length === 0 && <p className="text-sm text-zinc-500">No API keys yet.</p>}
      {keys && keys.length > 0 && (
        <ul className="divide-y divide-zinc-200 dark:divide-zinc-800" aria-label="Your API keys">
          {keys.map((k) => (
            <li key={k.id} className="flex items-center gap-3 py-2" data-testid="api-key-item">
              <div className="min-w-0 flex-1">
                <p className="truncate text-sm font-medium">{k.name}</p>
                <p className="text-xs text-zinc-500">
                  <code className="font-mono">{k.prefix}…</code> · created {relativeTime(k.created_at)} ·{" "}
                  {k.last_used_at ? `last used ${relativeTime(k.last_used_at)}` : "never used"}
                </p>
              </div>
              <button type="button" className="btn-icon" aria-label={`Revoke key ${k.name}`} onClick={() => setPendingRevoke(k)}>
                <Trash2 size={16} />
              </button>
            </li>
          ))}
        </ul>
      )}
      <ConfirmDialog
        open={pendingRevoke !== null}
        title="Revoke API key?"
        message={<>Clients using “{pendingRevoke?.name}” will stop working at once.</>}
        confirmLabel="Revoke"
        danger
        onConfirm={() => void onRevoke()}
        onCancel={() => setPendingRevoke(null)}
      />
    </section>
  );
}

export function AccountPage() {
  const status = useAuth((s) => s.status);
  const user = useAuth((s) => s.user);
  const signOut = useAuth((s) => s.signOut);
  const navigate = useNavigate();

  if (status !== "signed-in" || !user) {
    return (
      <div className="mx-auto max-w-2xl p-6 text-sm text-zinc-500">
        Accounts are turned off on this server: everyone shares one workspace, no sign-in needed.
      </div>
    );
  }
  return (
    <div className="h-full overflow-y-auto">
      <div className="mx-auto max-w-2xl space-y-6 p-4 sm:p-6">
        <section aria-labelledby="profile" className="card flex items-center gap-4">
          <div
            aria-hidden
            className="flex h-12 w-12 shrink-0 items-center justify-center rounded-full bg-accent-600 text-lg font-semibold text-white"
          >
            {(user.display_name || user.email).charAt(0).toUpperCase()}
          </div>
          <div className="min-w-0 flex-1">
            <h2 id="profile" className="truncate text-base font-semibold" data-testid="account-name">
              {user.display_name || user.email}
            </h2>
            <p className="truncate text-sm text-zinc-500" data-testid="account-email">
              {user.email}
              {user.role === "admin" ? " · administrator" : ""}
            </p>
          </div>
          <button
            type="button"
            className="btn-secondary"
            onClick={() => void signOut().then(() => navigate("/sign-in", { replace: true }))}
          >
            <LogOut size={14} aria-hidden /> Sign out
          </button>
        </section>
        <AccountSettings user={user} />
        <ApiKeys />
      </div>
    </div>
  );
}
