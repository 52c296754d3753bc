import { Menu, PanelLeftOpen, Search, Settings, UserRound } from "lucide-react";
import { useEffect } from "react";
import { Link, Outlet, useLocation } from "react-router";
import { MOD } from "@/hooks/use-commands";
import { RECONNECTED_EVENT, useHealthPoll } from "@/hooks/use-health-poll";
import { useShortcuts } from "@/hooks/use-shortcuts";
import { useTheme } from "@/hooks/use-theme";
import { useAuth } from "@/stores/auth";
import { useChat } from "@/stores/chat";
import { useUi } from "@/stores/ui";
import { CommandPalette } from "./CommandPalette";
import { OfflineBanner } from "./OfflineBanner";
import { SettingsDialog } from "./SettingsDialog";
import { Sidebar } from "./Sidebar";
import { Toasts } from "./Toasts";

function pageTitle(path: string): string {
  if (path.startsWith("/files")) return "Files";
  if (path.startsWith("/jobs")) return "Batch Jobs";
  if (path.startsWith("/dashboard")) return "Dashboard";
  if (path.startsWith("/learn")) return "Learn";
  if (path.startsWith("/account")) return "Account";
  if (path.startsWith("/admin/providers")) return "Providers";
  if (path.startsWith("/admin/users")) return "Users";
  return "Chat";
}

export function AppShell() {
  useTheme();
  useHealthPoll();
  useShortcuts();
  const { sidebarOpen, mobileSidebarOpen, setMobileSidebar, toggleSidebar, setPalette, setSettings } = useUi();
  const loadSessions = useChat((s) => s.loadSessions);
  const { pathname } = useLocation();
  const title = pageTitle(pathname);
  const user = useAuth((s) => s.user);

  useEffect(() => {
    void loadSessions();
    const onReconnect = () => void loadSessions();
    window.addEventListener(RECONNECTED_EVENT, onReconnect);
    return () => window.removeEventListener(RECONNECTED_EVENT, onReconnect);
  }, [loadSessions]);

  useEffect(() => {
    document.title = `${title} · Sable`;
  }, [title]);

  // Escape closes the mobile drawer, as it closes the other overlays.
  useEffect(() => {
    if (!mobileSidebarOpen) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setMobileSidebar(false);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [mobileSidebarOpen, setMobileSidebar]);

  return (
    <div className="flex h-full flex-col">
      <a href="#main" className="skip-link btn-primary">
        Skip to content
      </a>
      <OfflineBanner />
      <div className="flex min-h-0 flex-1">
        {sidebarOpen && (
          <div className="hidden md:block">
            <Sidebar />
          </div>
        )}
        {mobileSidebarOpen && (
          <div className="fixed inset-0 z-40 md:hidden">
            <div className="absolute inset-0 bg-black/40" onClick={() => setMobileSidebar(false)} aria-hidden />
            {/* Opaque: the sidebar's own background is translucent (it sits on the page). */}
            <div className="relative h-full w-72 max-w-[85vw] bg-zinc-50 shadow-xl dark:bg-zinc-900" data-testid="mobile-drawer">
              <Sidebar mobile />
            </div>
          </div>
        )}
        <div className="flex min-w-0 flex-1 flex-col">
          <header className="flex h-12 shrink-0 items-center gap-2 border-b border-zinc-200 px-3 dark:border-zinc-800">
            <button type="button" className="btn-icon md:hidden" aria-label="Open sidebar" onClick={() => setMobileSidebar(true)}>
              <Menu size={18} />
            </button>
            {!sidebarOpen && (
              <button type="button" className="btn-icon hidden md:inline-flex" aria-label="Expand sidebar" onClick={toggleSidebar}>
                <PanelLeftOpen size={18} />
              </button>
            )}
            <h1 className="text-sm font-semibold">{title}</h1>
            <div className="ml-auto flex items-center gap-1">
              <button
                type="button"
                onClick={() => setPalette(true)}
                className="hidden items-center gap-2 rounded-lg border border-zinc-200 px-2.5 py-1 text-xs text-zinc-500 hover:bg-zinc-100 sm:inline-flex dark:border-zinc-800 dark:hover:bg-zinc-800"
                aria-label="Open command palette"
              >
                <Search size={14} aria-hidden /> Search <kbd className="font-sans [@media(hover:none)]:hidden">{MOD}K</kbd>
              </button>
              <button type="button" className="btn-icon sm:hidden" aria-label="Open command palette" onClick={() => setPalette(true)}>
                <Search size={18} />
              </button>
              <button type="button" className="btn-icon" aria-label="Open settings" onClick={() => setSettings(true)}>
                <Settings size={18} />
              </button>
              {user && (
                <Link
                  to="/account"
                  className="btn-icon"
                  aria-label={`Account (${user.email})`}
                  title={user.display_name ? `${user.display_name} · ${user.email}` : user.email}
                  data-testid="account-link"
                >
                  <UserRound size={18} />
                </Link>
              )}
            </div>
          </header>
          <Toasts />
          <main id="main" tabIndex={-1} className="min-h-0 flex-1 overflow-hidden outline-none">
            <Outlet />
          </main>
        </div>
      </div>
      <CommandPalette />
      <SettingsDialog />
    </div>
  );
}
