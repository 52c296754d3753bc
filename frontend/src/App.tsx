import { createBrowserRouter, Navigate, RouterProvider } from "react-router";
import { ChatPage } from "./components/chat/ChatPage";
import { DashboardPage } from "./components/dashboard/DashboardPage";
import { JobsPage } from "./components/jobs/JobsPage";
import { AppShell } from "./components/layout/AppShell";
import { LearnDoc, LearnIndex } from "./components/learn/LearnPage";

const router = createBrowserRouter([
  {
    path: "/",
    element: <AppShell />,
    children: [
      { index: true, element: <ChatPage /> },
      { path: "chat/:sessionId", element: <ChatPage /> },
      { path: "jobs", element: <JobsPage /> },
      { path: "dashboard", element: <DashboardPage /> },
      { path: "learn", element: <LearnIndex /> },
      { path: "learn/*", element: <LearnDoc /> },
      { path: "*", element: <Navigate to="/" replace /> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
