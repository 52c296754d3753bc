/**
 * `/reset-password#token=…`: sets a new password with the one-time link an administrator
 * issued (`POST /api/v1/admin/users/{id}/password-reset`). The token travels in the fragment,
 * so it never reaches a server log or a Referer header.
 */
import { type FormEvent, useState } from "react";
import { Link, useNavigate } from "react-router";
import { authApi } from "@/api/auth";
import { ApiError } from "@/api/client";
import { humanError } from "@/lib/errors";
import { useAuth } from "@/stores/auth";

const MIN_PASSWORD = 10;

export function ResetPasswordPage() {
  const navigate = useNavigate();
  const [token] = useState(() => new URLSearchParams(window.location.hash.slice(1)).get("token") ?? "");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    if (password.length < MIN_PASSWORD) {
      setError(`The password needs at least ${MIN_PASSWORD} characters.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await authApi.resetPassword(token, password);
      useAuth.setState({ notice: "Your password was reset: sign in with the new one." });
      void navigate("/sign-in", { replace: true });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 422 ? err.message.replace(/^Invalid request:\s*/, "") : humanError(err).message);
      setBusy(false);
    }
  };
  return (
    <main id="main" className="flex min-h-full items-center justify-center bg-zinc-50 px-4 py-10 dark:bg-zinc-950">
      <div className="w-full max-w-sm space-y-4">
        <h1 className="text-center text-xl font-semibold">Choose a new password</h1>
        {!token ? (
          <p role="alert" className="text-sm text-red-600">
            This link has no reset token. Ask your administrator for a new link.
          </p>
        ) : (
          <form className="card space-y-3" onSubmit={(e) => void onSubmit(e)} aria-label="Reset password" noValidate>
            <label className="block text-sm">
              New password
              <input className="input mt-1" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} autoFocus />
            </label>
            {error && (
              <p role="alert" className="text-sm text-red-600 dark:text-red-400">
                {error}
              </p>
            )}
            <button type="submit" className="btn-primary w-full" disabled={busy || !password}>
              Set password
            </button>
          </form>
        )}
        <p className="text-center text-sm text-zinc-500">
          <Link to="/sign-in" className="font-medium text-accent-600 hover:underline">
            Back to sign in
          </Link>
        </p>
      </div>
    </main>
  );
}
