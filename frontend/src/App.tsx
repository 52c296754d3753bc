import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
import { AccountPage } from "./components/auth/AccountPage";
import { RequireAuth, SignInPage, SignUpPage } from "./components/auth/AuthPages";
import { ChatPage } from "./components/chat/ChatPage";
import { DashboardPage } from "./components/dashboard/DashboardPage";
import { JobsPage } from "./components/jobs/JobsPage";
import { AppShell } from "./components/layout/AppShell";
import { LearnDoc, LearnIndex } from "./components/learn/LearnPage";

const router = createBrowserRouter([
  { path: "/sign-in", element: <SignInPage /> },
  { path: "/sign-up", element: <SignUpPage /> },
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
      { path: "jobs", element: <JobsPage /> },
      { path: "dashboard", element: <DashboardPage /> },
      { path: "learn", element: <LearnIndex /> },
      { path: "learn/*", element: <LearnDoc /> },
      { path: "account", element: <AccountPage /> },
      { path: "*", element: <Navigate to="/" replace /> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
