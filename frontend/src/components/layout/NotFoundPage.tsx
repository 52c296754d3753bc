import { useEffect } from "react";
import { Link, useLocation } from "react-router";
import { useTheme } from "@/hooks/use-theme";

/**
 * Any path no route knows (a mistyped or stale link). It stands outside the app shell so the
 * shell's header cannot call it "Chat", and it needs no sign-in: the link home leads to the
 * sign-in page when that is where home is.
 */
export function NotFoundPage() {
  useTheme();
  const { pathname } = useLocation();
  useEffect(() => {
    document.title = "Page not found · Sable";
  }, []);
  return (
    <main id="main" className="flex min-h-full items-center justify-center bg-zinc-50 px-4 py-10 dark:bg-zinc-950">
      <div className="w-full max-w-sm text-center">
        <img src="/favicon.svg" alt="" className="mx-auto h-10 w-10" />
        <p className="mt-4 text-sm font-medium text-accent-600 dark:text-accent-500">404</p>
        <h1 className="mt-1 text-xl font-semibold">Page not found</h1>
        <p className="mt-2 break-words text-sm text-zinc-500">
          Nothing lives at <code className="font-mono">{pathname}</code>. The link may be mistyped or out of date.
        </p>
        <Link to="/" className="btn-primary mt-6 inline-flex">
          Back to chat
        </Link>
      </div>
    </main>
  );
}
