import { LoaderCircle } from "lucide-react";
import { type FormEvent, Fragment, type ReactNode, useState } from "react";
import { Link, Navigate, useLocation, useSearchParams } from "react-router";
import { ApiError, describeError, NetworkError } from "@/api/client";
import { useTheme } from "@/hooks/use-theme";
import { useAuth } from "@/stores/auth";

/** The gateway's policy: at least 10 characters, not the email (it checks again). */
export const MIN_PASSWORD = 10;

const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

/** Checks done before asking the server (the server checks again). */
function checkForm(email: string, password: string, signUp: boolean): FormError | null {
  if (!EMAIL_RE.test(email.trim())) return { message: "Enter an email address like name@example.com.", field: "email" };
  if (!password) return { message: "Enter your password.", field: "password" };
  if (signUp && [...password].length < MIN_PASSWORD) return { message: `Use at least ${MIN_PASSWORD} characters.`, field: "password" };
  if (signUp && password.trim().toLowerCase() === email.trim().toLowerCase()) {
    return { message: "Choose a password that is not your email address.", field: "password" };
  }
  return null;
}

/** Where to go after signing in: `?next=` when it is a path inside the app. */
function useNext(): string {
  const [params] = useSearchParams();
  const next = params.get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/sign-") ? next : "/";
}

interface FormError {
  message: string;
  field?: "email" | "password" | "display_name";
}

/** Short, human sentences for the accounts errors; the server's message otherwise. */
export function authErrorMessage(e: unknown, mode: "in" | "up"): FormError {
  if (e instanceof NetworkError) return { message: "Cannot reach the server. Check your connection and try again." };
  if (!(e instanceof ApiError)) return { message: describeError(e) };
  // Registration answers the same for a taken email; the sign-in after it then fails.
  if (mode === "up" && e.code === "INVALID_CREDENTIALS") {
    return { message: "Could not sign in to this email's account: if it already existed, sign in with its password.", field: "email" };
  }
  if (e.code === "INVALID_CREDENTIALS" || (mode === "in" && e.status === 401)) {
    return { message: "Wrong email or password.", field: "password" };
  }
  if (e.status === 409 || e.code === "CONFLICT") return { message: "An account with this email already exists.", field: "email" };
  if (e.status === 403 && mode === "up") return { message: "Registration is closed on this server." };
  if (e.status === 429) return { message: "Too many attempts. Wait a minute and try again." };
  if (e.status === 422 || e.code === "VALIDATION_ERROR") {
    const field = e.field === "email" || e.field === "password" || e.field === "display_name" ? e.field : undefined;
    const text = e.message.replace(/^Invalid request:\s*/, "");
    return { message: text.charAt(0).toUpperCase() + text.slice(1), field };
  }
  return { message: e.requestId ? `${e.message} (request ${e.requestId})` : e.message };
}

function AuthFrame({ title, subtitle, children }: { title: string; subtitle: ReactNode; children: ReactNode }) {
  useTheme();
  return (
    <main id="main" className="flex min-h-full items-center justify-center bg-zinc-50 px-4 py-10 dark:bg-zinc-950">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex flex-col items-center gap-3 text-center">
          <img src="/favicon.svg" alt="" className="h-10 w-10" />
          <h1 className="text-xl font-semibold">{title}</h1>
          <p className="text-sm text-zinc-500">{subtitle}</p>
        </div>
        <div className="card space-y-4 p-6 shadow-sm">{children}</div>
      </div>
    </main>
  );
}

function Field(props: {
  id: string;
  label: string;
  type: string;
  value: string;
  onChange: (v: string) => void;
  autoComplete: string;
  error?: string;
  hint?: string;
  required?: boolean;
  autoFocus?: boolean;
  minLength?: number;
}) {
  const describedBy = props.error ? `${props.id}-error` : props.hint ? `${props.id}-hint` : undefined;
  return (
    <div className="space-y-1">
      <label htmlFor={props.id} className="block text-sm font-medium">
        {props.label}
      </label>
      <input
        id={props.id}
        name={props.id}
        type={props.type}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        autoComplete={props.autoComplete}
        required={props.required}
        autoFocus={props.autoFocus}
        minLength={props.minLength}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={describedBy}
        className="input aria-[invalid=true]:border-red-500"
      />
      {props.error ? (
        <p id={`${props.id}-error`} className="text-xs text-red-600 dark:text-red-400">
          {props.error}
        </p>
      ) : props.hint ? (
        <p id={`${props.id}-hint`} className="text-xs text-zinc-500">
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

function Submit({ busy, children }: { busy: boolean; children: ReactNode }) {
  return (
    <button type="submit" className="btn-primary w-full py-2" disabled={busy}>
      {busy && <LoaderCircle size={16} className="animate-spin" aria-hidden />}
      {children}
    </button>
  );
}

function FormAlert({ error }: { error: FormError | null }) {
  if (!error || error.field) return null;
  return (
    <p role="alert" className="rounded-lg bg-red-50 px-3 py-2 text-sm text-red-700 dark:bg-red-950/50 dark:text-red-300">
      {error.message}
    </p>
  );
}

/** While the accounts state is unknown, or when signed in already, the forms are not shown. */
function useRedirect(): ReactNode | null {
  const status = useAuth((s) => s.status);
  const next = useNext();
  if (status === "loading") return <div className="h-full" aria-busy="true" />;
  if (status === "signed-in" || status === "off") return <Navigate to={next} replace />;
  return null;
}

export function SignInPage() {
  const signIn = useAuth((s) => s.signIn);
  const notice = useAuth((s) => s.notice);
  const registration = useAuth((s) => s.config?.registration);
  const { search } = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<FormError | null>(null);
  const redirect = useRedirect();
  if (redirect) return redirect;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const invalid = checkForm(email, password, false);
    if (invalid) {
      setError(invalid);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
    } catch (err) {
      setError(authErrorMessage(err, "in"));
      setBusy(false);
    }
  };

  return (
    <AuthFrame title="Sign in to Sable" subtitle="Your conversations and jobs, on your own server.">
      {notice && !error && (
        <p role="status" className="rounded-lg bg-amber-50 px-3 py-2 text-sm text-amber-800 dark:bg-amber-950/40 dark:text-amber-200">
          {notice}
        </p>
      )}
      <FormAlert error={error} />
      <form className="space-y-4" onSubmit={(e) => void onSubmit(e)} aria-label="Sign in" noValidate>
        <Field id="email" label="Email" type="email" value={email} onChange={setEmail} autoComplete="email" required autoFocus
          error={error?.field === "email" ? error.message : undefined} />
        <Field id="password" label="Password" type="password" value={password} onChange={setPassword} autoComplete="current-password" required
          error={error?.field === "password" ? error.message : undefined} />
        <Submit busy={busy}>Sign in</Submit>
      </form>
      {registration !== "closed" && (
        <p className="text-center text-sm text-zinc-500">
          New here?{" "}
          <Link to={`/sign-up${search}`} className="font-medium text-accent-600 hover:underline dark:text-accent-500">
            Create an account
          </Link>
        </p>
      )}
    </AuthFrame>
  );
}

export function SignUpPage() {
  const signUp = useAuth((s) => s.signUp);
  const registration = useAuth((s) => s.config?.registration);
  const { search } = useLocation();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<FormError | null>(null);
  const redirect = useRedirect();
  if (redirect) return redirect;

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const invalid = checkForm(email, password, true);
    if (invalid) {
      setError(invalid);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signUp(email.trim(), password, name);
    } catch (err) {
      setError(authErrorMessage(err, "up"));
      setBusy(false);
    }
  };

  const signInLink = (
    <Link to={`/sign-in${search}`} className="font-medium text-accent-600 hover:underline dark:text-accent-500">
      Sign in
    </Link>
  );
  if (registration === "closed") {
    return (
      <AuthFrame title="Registration is closed" subtitle="Ask the administrator of this server for an account.">
        <p className="text-center text-sm text-zinc-500">Already have an account? {signInLink}</p>
      </AuthFrame>
    );
  }
  return (
    <AuthFrame title="Create your Sable account" subtitle="Chats you start are private to your account.">
      <FormAlert error={error} />
      <form className="space-y-4" onSubmit={(e) => void onSubmit(e)} aria-label="Create account" noValidate>
        <Field id="display_name" label="Name (optional)" type="text" value={name} onChange={setName} autoComplete="name" autoFocus
          error={error?.field === "display_name" ? error.message : undefined} />
        <Field id="email" label="Email" type="email" value={email} onChange={setEmail} autoComplete="email" required
          error={error?.field === "email" ? error.message : undefined} />
        <Field id="password" label="Password" type="password" value={password} onChange={setPassword} autoComplete="new-password" required
          minLength={MIN_PASSWORD} hint={`At least ${MIN_PASSWORD} characters.`}
          error={error?.field === "password" ? error.message : undefined} />
        <Submit busy={busy}>Create account</Submit>
      </form>
      <p className="text-center text-sm text-zinc-500">Already have an account? {signInLink}</p>
    </AuthFrame>
  );
}

/** Shows the app only to a signed-in user (or to everyone when accounts are off). */
export function RequireAuth({ children }: { children: ReactNode }) {
  const status = useAuth((s) => s.status);
  const userId = useAuth((s) => s.user?.id ?? null);
  const { pathname, search, hash } = useLocation();
  if (status === "loading") {
    return (
      <div className="flex h-full items-center justify-center text-zinc-400" aria-busy="true" aria-label="Loading">
        <LoaderCircle size={20} className="animate-spin" aria-hidden />
      </div>
    );
  }
  if (status === "signed-out") {
    const next = `${pathname}${search}${hash}`;
    return <Navigate to={next === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  // Another user signed in without a sign-out here (another tab did it and this one followed):
  // the pages start again for them, so no page keeps the previous user's data in its own state.
  return <Fragment key={userId ?? "everyone"}>{children}</Fragment>;
}
