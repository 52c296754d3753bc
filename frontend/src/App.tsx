import { type ComponentType, lazy, type ReactNode, Suspense } from "react";
import { createBrowserRouter, RouterProvider } from "react-router";
import { RequireAuth, SignInPage, SignUpPage } from "./components/auth/AuthPages";
import { ChatPage } from "./components/chat/ChatPage";
import { AppShell } from "./components/layout/AppShell";
import { NotFoundPage } from "./components/layout/NotFoundPage";

// Chat is where almost every visit starts, so it (and the shell) is in the entry chunk. The
// other pages are fetched the first time they are opened: the dashboard's charts, the docs
// reader and the jobs and account pages would otherwise cost every chat load their bytes
// (tools/bundle-size.mjs holds the chat route to 200 KB of gzipped JavaScript).
function page<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) {
  return lazy(() => load().then((m) => ({ default: m[name] })));
}
const JobsPage = page(() => import("./components/jobs/JobsPage"), "JobsPage");
const FilesPage = page(() => import("./components/files/FilesPage"), "FilesPage");
const DashboardPage = page(() => import("./components/dashboard/DashboardPage"), "DashboardPage");
const LearnIndex = page(() => import("./components/learn/LearnPage"), "LearnIndex");
const LearnDoc = page(() => import("./components/learn/LearnPage"), "LearnDoc");
const WorkshopTaskPage = page(() => import("./components/learn/WorkshopTask"), "WorkshopTaskPage");
const AccountPage = page(() => import("./components/auth/AccountPage"), "AccountPage");
const ProvidersPage = page(() => import("./components/admin/ProvidersPage"), "ProvidersPage");
const UsersPage = page(() => import("./components/admin/UsersPage"), "UsersPage");
const SharedPage = page(() => import("./components/chat/SharedPage"), "SharedPage");
const ResetPasswordPage = page(() => import("./components/auth/ResetPasswordPage"), "ResetPasswordPage");

/** While a page's chunk downloads (first visit only; navigations keep the old page meanwhile). */
function Loading({ children }: { children: ReactNode }) {
  return (
    <Suspense
      fallback={
        <div role="status" className="p-6 text-sm text-zinc-500">
          Loading…
        </div>
      }
    >
      {children}
    </Suspense>
  );
}

const router = createBrowserRouter([
  { path: "/sign-in", element: <SignInPage /> },
  { path: "/sign-up", element: <SignUpPage /> },
  // Public: a shared chat reads without an account (issue 25.11).
  { path: "/shared/:token", element: <Loading><SharedPage /></Loading> },
  { path: "/reset-password", element: <Loading><ResetPasswordPage /></Loading> },
  {
    path: "/",
    element: (
      <RequireAuth>
        <AppShell />
      </RequireAuth>
    ),
    children: [
      { index: true, element: <ChatPage /> },
      { path: "chat/:sessionId", element: <ChatPage /> },
      { path: "jobs", element: <Loading><JobsPage /></Loading> },
      { path: "files", element: <Loading><FilesPage /></Loading> },
      { path: "dashboard", element: <Loading><DashboardPage /></Loading> },
      { path: "learn", element: <Loading><LearnIndex /></Loading> },
      { path: "learn/workshop/:taskId/:page?", element: <Loading><WorkshopTaskPage /></Loading> },
      { path: "learn/*", element: <Loading><LearnDoc /></Loading> },
      { path: "account", element: <Loading><AccountPage /></Loading> },
      { path: "admin/providers", element: <Loading><ProvidersPage /></Loading> },
      { path: "admin/users", element: <Loading><UsersPage /></Loading> },
    ],
  },
  // Outside the shell and its sign-in: "/" only matches when one of its children does.
  { path: "*", element: <NotFoundPage /> },
]);

export function App() {
  return <RouterProvider router={router} />;
}
