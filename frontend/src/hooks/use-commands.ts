import { useMemo } from "react";
import { useNavigate } from "react-router";
import { exportSession } from "@/lib/export";
import { useAuth } from "@/stores/auth";
import { useChat } from "@/stores/chat";
import { resolveDark, useSettings } from "@/stores/settings";
import { focusComposer, useUi } from "@/stores/ui";

export interface Command {
  id: string;
  group: string;
  label: string;
  hint?: string;
  run: () => void;
}

export const isMac = typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform);
export const MOD = isMac ? "⌘" : "Ctrl";

/** Every action reachable from the palette and the keyboard. */
export function useActions() {
  const navigate = useNavigate();
  return useMemo(
    () => ({
      newChat: () => {
        useChat.getState().newChat();
        void navigate("/");
        setTimeout(focusComposer, 0);
      },
      focusInput: () => {
        if (!document.getElementById("chat-input")) void navigate("/");
        setTimeout(focusComposer, 0);
      },
      toggleSidebar: () => useUi.getState().toggleSidebar(),
      openSettings: () => useUi.getState().setSettings(true),
      toggleTheme: () => {
        const s = useSettings.getState();
        s.set({ theme: resolveDark(s.theme) ? "light" : "dark" });
      },
      exportCurrent: () => {
        const { activeId, sessions } = useChat.getState();
        const s = sessions.find((x) => x.id === activeId);
        if (s) void exportSession(s.id, s.title, "markdown");
      },
      go: (path: string) => void navigate(path),
    }),
    [navigate],
  );
}

export function useCommands(): Command[] {
  const a = useActions();
  const sessions = useChat((s) => s.sessions);
  const dark = resolveDark(useSettings((s) => s.theme));
  const signedIn = useAuth((s) => s.status === "signed-in");
  return useMemo(() => {
    const cmds: Command[] = [
      { id: "new", group: "Actions", label: "New chat", hint: `${MOD}+Shift+O`, run: a.newChat },
      { id: "focus", group: "Actions", label: "Focus message input", hint: "Shift+Esc", run: a.focusInput },
      { id: "sidebar", group: "Actions", label: "Toggle sidebar", hint: `${MOD}+/`, run: a.toggleSidebar },
      { id: "settings", group: "Actions", label: "Open settings", hint: `${MOD}+,`, run: a.openSettings },
      { id: "theme", group: "Actions", label: dark ? "Switch to light mode" : "Switch to dark mode", run: a.toggleTheme },
      { id: "export", group: "Actions", label: "Export current chat (Markdown)", hint: `${MOD}+Shift+E`, run: a.exportCurrent },
      { id: "go-chat", group: "Navigate", label: "Go to Chat", run: () => a.go("/") },
      { id: "go-files", group: "Navigate", label: "Go to Files", run: () => a.go("/files") },
      { id: "go-jobs", group: "Navigate", label: "Go to Batch Jobs", run: () => a.go("/jobs") },
      { id: "go-dash", group: "Navigate", label: "Go to Dashboard", run: () => a.go("/dashboard") },
      { id: "go-learn", group: "Navigate", label: "Go to Learn", run: () => a.go("/learn") },
    ];
    if (signedIn) {
      cmds.push(
        { id: "go-account", group: "Navigate", label: "Go to Account (API keys)", run: () => a.go("/account") },
        {
          id: "sign-out",
          group: "Actions",
          label: "Sign out",
          run: () => void useAuth.getState().signOut().then(() => a.go("/sign-in")),
        },
      );
    }
    for (const s of sessions.slice(0, 8)) {
      cmds.push({
        id: `s-${s.id}`,
        group: "Recent chats",
        label: s.title,
        hint: `${s.message_count} msg`,
        run: () => a.go(`/chat/${s.id}`),
      });
    }
    return cmds;
  }, [a, sessions, dark, signedIn]);
}
