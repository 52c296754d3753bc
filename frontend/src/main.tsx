import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { ErrorBoundary } from "./components/layout/ErrorBoundary";
import "./index.css";
import { useAuth } from "./stores/auth";

// Accounts: learn the gateway's auth mode and, when signed in before, restore the session
// from the refresh cookie. The app waits for this before showing anything behind sign-in.
void useAuth.getState().init();

const root = document.getElementById("root");
if (!root) throw new Error("#root missing");

createRoot(root).render(
  <StrictMode>
    <ErrorBoundary>
      <App />
    </ErrorBoundary>
  </StrictMode>,
);
