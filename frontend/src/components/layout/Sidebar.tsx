import {
  Archive,
  ArchiveRestore,
  BookOpen,
  Briefcase,
  Download,
  FileText,
  FolderInput,
  FolderOutput,
  LayoutDashboard,
  MessageSquare,
  MoreHorizontal,
  PanelLeftClose,
  Pencil,
  Pin,
  PinOff,
  Plus,
  Search,
  Server,
  Settings,
  Trash2,
  Upload,
  Users,
  X,
} from "lucide-react";
import type React from "react";
import { useEffect, useRef, useState } from "react";
import { NavLink, useLocation, useNavigate } from "react-router";
import { describeError } from "@/api/client";
import { api } from "@/api/endpoints";
import type { ChatSessionOut, SearchResult } from "@/api/types";
import { useActions } from "@/hooks/use-commands";
import { useIsAdmin } from "@/hooks/use-is-admin";
import { exportSession } from "@/lib/export";
import { parseSnippet, relativeTime } from "@/lib/format";
import { groupSessions, useChat } from "@/stores/chat";
import { useAuth } from "@/stores/auth";
import { useFolders } from "@/stores/folders";
import { useUi } from "@/stores/ui";
import { ConfirmDialog } from "../ui/Dialog";
import { SESSION_DRAG_TYPE, SidebarFolders, useChatDrop } from "./SidebarFolders";

function SearchResults({ results, onPick }: { results: SearchResult[]; onPick: (r: SearchResult) => void }) {
  if (results.length === 0) return <p className="px-3 py-4 text-sm text-zinc-500">No messages match.</p>;
  return (
    <ul aria-label="Search results" className="space-y-0.5">
      {results.map((r) => (
        <li key={`${r.session_id}-${r.message_id}`}>
          <button
            type="button"
            onClick={() => onPick(r)}
            className="w-full rounded-lg px-3 py-2 text-left hover:bg-zinc-100 dark:hover:bg-zinc-800"
            data-testid="search-result"
          >
            <span className="block truncate text-sm font-medium">{r.session_title}</span>
            <span className="line-clamp-2 text-xs text-zinc-600 dark:text-zinc-400">
              {parseSnippet(r.snippet).map((seg, i) =>
                seg.mark ? (
                  <mark key={i} className="rounded bg-amber-200 px-0.5 text-zinc-900 dark:bg-amber-500/40 dark:text-zinc-50">
                    {seg.text}
                  </mark>
                ) : (
                  <span key={i}>{seg.text}</span>
                ),
              )}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

/** Moves the focus to the next (+1) or previous (-1) chat link of the sidebar. */
function focusSibling(from: HTMLElement, delta: 1 | -1) {
  const links = [...(from.closest("nav")?.querySelectorAll<HTMLElement>("[data-session-link]") ?? [])];
  const i = links.indexOf(from);
  links[i + delta]?.focus();
}

interface MenuAction {
  label: string;
  icon: typeof Pencil;
  run: () => void;
  danger?: boolean;
}

/**
 * A chat's actions (rename, pin, archive, export, delete) behind one "⋯" button. The button is
 * not a Tab stop (each chat is one Tab stop: its link); from the link, → or Shift+F10 opens the
 * menu, ↑/↓ move within it, Esc closes it and gives the focus back to the link.
 */
function RowMenu({
  title,
  actions,
  open,
  setOpen,
  linkRef,
}: {
  title: string;
  actions: MenuAction[];
  open: boolean;
  setOpen: (open: boolean) => void;
  linkRef: React.RefObject<HTMLAnchorElement | null>;
}) {
  const button = useRef<HTMLButtonElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState<{ top: number; left: number } | null>(null);

  useEffect(() => {
    if (!open) return;
    const r = button.current?.getBoundingClientRect();
    if (r) {
      const height = actions.length * 34 + 8;
      const top = r.bottom + height > window.innerHeight ? Math.max(4, r.top - height) : r.bottom;
      setPos({ top, left: Math.max(4, r.right - 176) });
    }
    const onDown = (e: MouseEvent) => {
      if (!menu.current?.contains(e.target as Node) && !button.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", onDown);
    return () => document.removeEventListener("mousedown", onDown);
  }, [open, actions.length, setOpen]);

  useEffect(() => {
    if (open && pos) menu.current?.querySelector<HTMLElement>("[role=menuitem]")?.focus();
  }, [open, pos]);

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) linkRef.current?.focus();
  };

  const onMenuKey = (e: React.KeyboardEvent) => {
    const items = [...(menu.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? [])];
    const i = items.indexOf(document.activeElement as HTMLElement);
    const go = (j: number) => items[(j + items.length) % items.length]?.focus();
    if (e.key === "ArrowDown") go(i + 1);
    else if (e.key === "ArrowUp") go(i - 1);
    else if (e.key === "Home") go(0);
    else if (e.key === "End") go(items.length - 1);
    else if (e.key === "Escape" || e.key === "ArrowLeft") close(true);
    else if (e.key === "Tab") close(false);
    else return;
    if (e.key !== "Tab") e.preventDefault();
    e.stopPropagation();
  };

  return (
    <>
      <button
        ref={button}
        type="button"
        tabIndex={-1}
        className={`btn-icon mr-1 h-7 w-7 shrink-0 ${open ? "" : "md:opacity-0 md:group-focus-within:opacity-100 md:group-hover:opacity-100 [@media(hover:none)]:opacity-100"}`}
        aria-label={`Actions for ${title}`}
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <MoreHorizontal size={16} />
      </button>
      {open && (
        <div
          ref={menu}
          role="menu"
          aria-label={`Actions for ${title}`}
          onKeyDown={onMenuKey}
          style={pos ? { top: pos.top, left: pos.left } : { visibility: "hidden" }}
          className="fixed z-50 w-44 rounded-lg border border-zinc-200 bg-white p-1 shadow-lg dark:border-zinc-700 dark:bg-zinc-900"
        >
          {actions.map(({ label, icon: Icon, run, danger }) => (
            <button
              key={label}
              type="button"
              role="menuitem"
              tabIndex={-1}
              onClick={() => {
                close(false);
                run();
              }}
              className={`flex w-full items-center gap-2 rounded-md px-2.5 py-1.5 text-left text-sm hover:bg-zinc-100 focus:bg-zinc-100 focus-visible:outline-none dark:hover:bg-zinc-800 dark:focus:bg-zinc-800 ${
                danger ? "text-red-600 dark:text-red-400" : ""
              }`}
            >
              <Icon size={14} aria-hidden /> {label}
            </button>
          ))}
        </div>
      )}
    </>
  );
}

function SessionItem({ s, active, onDelete }: { s: ChatSessionOut; active: boolean; onDelete: () => void }) {
  const { rename, setPinned, setArchived, setFolder } = useChat.getState();
  const folders = useFolders((st) => st.folders);
  const [editing, setEditing] = useState(false);
  const [menuOpen, setMenuOpen] = useState(false);
  const [title, setTitle] = useState(s.title);
  const close = useUi((st) => st.setMobileSidebar);
  const link = useRef<HTMLAnchorElement>(null);

  const [serverTitle, setServerTitle] = useState(s.title);
  if (s.title !== serverTitle) {
    setServerTitle(s.title);
    setTitle(s.title);
  }

  const finishEditing = (save: boolean) => {
    if (save) void rename(s.id, title);
    else setTitle(s.title);
    setEditing(false);
    setTimeout(() => link.current?.focus(), 0);
  };

  if (editing) {
    return (
      <form
        className="px-1 py-0.5"
        onSubmit={(e) => {
          e.preventDefault();
          finishEditing(true);
        }}
      >
        <input
          autoFocus
          value={title}
          maxLength={200}
          onChange={(e) => setTitle(e.target.value)}
          onBlur={() => {
            void rename(s.id, title);
            setEditing(false);
          }}
          onKeyDown={(e) => {
            if (e.key === "Escape") {
              e.stopPropagation();
              finishEditing(false);
            }
          }}
          aria-label="Conversation title"
          className="input py-1"
        />
      </form>
    );
  }
  const actions: MenuAction[] = [
    { label: "Rename", icon: Pencil, run: () => setEditing(true) },
    s.pinned ? { label: "Unpin", icon: PinOff, run: () => void setPinned(s.id, false) } : { label: "Pin", icon: Pin, run: () => void setPinned(s.id, true) },
    s.archived
      ? { label: "Unarchive", icon: ArchiveRestore, run: () => void setArchived(s.id, false) }
      : { label: "Archive", icon: Archive, run: () => void setArchived(s.id, true) },
    // The keyboard (and touch) way to file a chat; drag and drop does the same.
    ...folders
      .filter((f) => f.id !== s.folder_id)
      .map((f) => ({ label: `Move to ${f.name}`, icon: FolderInput, run: () => void setFolder(s.id, f.id) })),
    ...(s.folder_id ? [{ label: "Remove from folder", icon: FolderOutput, run: () => void setFolder(s.id, null) }] : []),
    { label: "Export", icon: Download, run: () => void exportSession(s.id, s.title, "markdown") },
    { label: "Delete", icon: Trash2, run: onDelete, danger: true },
  ];
  return (
    <div
      className={`group flex items-center rounded-lg ${
        active ? "bg-zinc-200/70 dark:bg-zinc-800" : "hover:bg-zinc-100 dark:hover:bg-zinc-800/60"
      }`}
      data-testid="session-item"
      draggable={!s.archived}
      onDragStart={(e) => {
        e.dataTransfer.setData(SESSION_DRAG_TYPE, s.id);
        e.dataTransfer.effectAllowed = "move";
      }}
    >
      <NavLink
        ref={link}
        to={`/chat/${s.id}`}
        onClick={() => close(false)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            focusSibling(e.currentTarget, e.key === "ArrowDown" ? 1 : -1);
          } else if (e.key === "ArrowRight" || e.key === "ContextMenu" || (e.key === "F10" && e.shiftKey)) {
            e.preventDefault();
            setMenuOpen(true);
          }
        }}
        aria-current={active ? "page" : undefined}
        aria-describedby="session-keys-hint"
        data-session-link
        className="min-w-0 flex-1 rounded-lg px-3 py-2 focus-visible:outline-offset-[-2px]"
        title={s.title}
      >
        <span className="flex items-center gap-1 truncate text-sm">
          {s.pinned && <Pin size={12} className="shrink-0 text-zinc-500" aria-label="Pinned" />}
          <span className="truncate">{s.title}</span>
        </span>
        <span className="block text-[11px] text-zinc-500">{relativeTime(s.updated_at)}</span>
      </NavLink>
      <RowMenu title={s.title} actions={actions} open={menuOpen} setOpen={setMenuOpen} linkRef={link} />
    </div>
  );
}

const NAV = [
  { to: "/", label: "Chat", icon: MessageSquare, end: true },
  { to: "/files", label: "Files", icon: FileText, end: true },
  { to: "/jobs", label: "Batch Jobs", icon: Briefcase, end: true },
  { to: "/dashboard", label: "Dashboard", icon: LayoutDashboard, end: true },
  { to: "/learn", label: "Learn", icon: BookOpen, end: false },
];
/** Shown to administrators only (the pages' API answers others 403); Users only with accounts on. */
const ADMIN_NAV = [
  { to: "/admin/providers", label: "Providers", icon: Server, end: true, accounts: false },
  { to: "/admin/users", label: "Users", icon: Users, end: true, accounts: true },
];

export function Sidebar({ mobile = false }: { mobile?: boolean }) {
  const { sessions, sessionsStatus, archivedStatus, hasMore, activeId, loadMoreSessions, loadArchived, remove, importChat } = useChat();
  const [showArchived, setShowArchived] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const actions = useActions();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const setMobile = useUi((s) => s.setMobileSidebar);
  const isAdmin = useIsAdmin();
  const accountsOn = useAuth((st) => st.config?.auth_mode === "jwt");
  const [q, setQ] = useState("");
  const [found, setFound] = useState<{ query: string; results: SearchResult[] } | null>(null);
  const [pendingDelete, setPendingDelete] = useState<ChatSessionOut | null>(null);
  const abortRef = useRef<AbortController | null>(null);

  useEffect(() => {
    const query = q.trim();
    abortRef.current?.abort();
    if (!query) return;
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    const t = setTimeout(() => {
      api
        .search(query, 20, ctrl.signal)
        .then((r) => !ctrl.signal.aborted && setFound({ query, results: r.results }))
        .catch((e: unknown) => {
          if (!ctrl.signal.aborted) {
            setFound({ query, results: [] });
            console.warn("search failed", describeError(e));
          }
        });
    }, 250);
    return () => {
      clearTimeout(t);
      ctrl.abort();
    };
  }, [q]);

  // Derived: the last results stay visible while a new query is on its way.
  const query = q.trim();
  const results = query ? (found?.results ?? null) : null;
  const searching = query !== "" && found?.query !== query;

  const confirmDelete = async () => {
    const s = pendingDelete;
    setPendingDelete(null);
    if (!s) return;
    const wasActive = s.id === activeId;
    const ok = await remove(s.id);
    if (ok && wasActive) void navigate("/");
  };

  const onImport = async (file: File | undefined) => {
    if (!file) return;
    const id = await importChat(await file.text());
    if (fileInput.current) fileInput.current.value = "";
    if (!id) return;
    setShowArchived(false);
    setMobile(false);
    void navigate(`/chat/${id}`);
  };

  // "Chat" goes back to the chat open last (a new chat if that was one); from elsewhere with
  // no chat open yet in this tab, to the most recent one.
  const onChatRoute = pathname === "/" || pathname.startsWith("/chat/");
  const lastChat = activeId ?? (onChatRoute ? null : (sessions.find((x) => !x.archived)?.id ?? null));
  const chatPath = onChatRoute && !activeId ? "/" : lastChat ? `/chat/${lastChat}` : "/";
  // Chats in a (known) folder show in it, above the date groups, and not again below.
  const folders = useFolders((st) => st.folders);
  const loadFolders = useFolders((st) => st.load);
  useEffect(() => {
    void loadFolders();
  }, [loadFolders]);
  const folderIds = new Set(folders.map((f) => f.id));
  const inFolder = (x: ChatSessionOut) => x.folder_id != null && folderIds.has(x.folder_id);
  const filed = sessions.filter((x) => !x.archived && inFolder(x));
  const groups = groupSessions(showArchived ? sessions : sessions.filter((x) => !inFolder(x)), { archived: showArchived });
  const unfile = useChatDrop(null);
  const renderSession = (x: ChatSessionOut) => <SessionItem s={x} active={x.id === activeId} onDelete={() => setPendingDelete(x)} />;

  return (
    <nav aria-label="Sidebar" className="flex h-full w-72 flex-col border-r border-zinc-200 bg-zinc-50 dark:border-zinc-800 dark:bg-zinc-900/60">
      <div className="flex items-center justify-between px-3 pb-2 pt-3">
        <span className="flex items-center gap-2 text-base font-semibold">
          <img src="/favicon.svg" alt="" className="h-6 w-6" /> Sable
        </span>
        <button
          type="button"
          className="btn-icon"
          aria-label={mobile ? "Close sidebar" : "Collapse sidebar"}
          onClick={() => (mobile ? setMobile(false) : actions.toggleSidebar())}
        >
          {mobile ? <X size={18} /> : <PanelLeftClose size={18} />}
        </button>
      </div>
      <div className="space-y-2 px-3">
        <div className="flex gap-2">
          <button
            type="button"
            className="btn-primary flex-1"
            onClick={() => {
              setMobile(false);
              actions.newChat();
            }}
          >
            <Plus size={16} /> New chat
          </button>
          <button
            type="button"
            className="btn-secondary px-2.5"
            aria-label="Import chat"
            title="Import a chat from a Sable JSON export"
            onClick={() => fileInput.current?.click()}
          >
            <Upload size={16} />
          </button>
          <input
            ref={fileInput}
            type="file"
            accept=".json,application/json"
            className="hidden"
            data-testid="import-chat-file"
            onChange={(e) => void onImport(e.target.files?.[0])}
          />
        </div>
        <div className="relative">
          <Search size={14} className="pointer-events-none absolute left-2.5 top-1/2 -translate-y-1/2 text-zinc-400" aria-hidden />
          <input
            type="search"
            value={q}
            onChange={(e) => setQ(e.target.value)}
            placeholder="Search messages"
            maxLength={200}
            aria-label="Search conversations"
            className="input pl-8"
          />
        </div>
      </div>
      <div className="mt-1 min-h-0 flex-1 overflow-y-auto px-2 py-1" aria-busy={searching || sessionsStatus === "loading"}>
        {results !== null ? (
          <SearchResults
            results={results}
            onPick={(r) => {
              setMobile(false);
              void navigate(`/chat/${r.session_id}#m-${r.message_id}`);
            }}
          />
        ) : (
          <>
            <div className="mb-1 flex gap-1 px-1" role="group" aria-label="Which chats">
              {[false, true].map((archived) => (
                <button
                  key={String(archived)}
                  type="button"
                  aria-pressed={showArchived === archived}
                  onClick={() => {
                    setShowArchived(archived);
                    if (archived) void loadArchived();
                  }}
                  className={`rounded-md px-2 py-0.5 text-xs ${
                    showArchived === archived ? "bg-zinc-200 font-medium dark:bg-zinc-800" : "text-zinc-500 hover:bg-zinc-100 dark:hover:bg-zinc-800/60"
                  }`}
                >
                  {archived ? "Archived" : "Chats"}
                </button>
              ))}
            </div>
            {(showArchived ? archivedStatus : sessionsStatus) === "loading" && groups.length === 0 && (
              <div className="space-y-2 p-2" aria-label="Loading conversations">
                {[0, 1, 2].map((i) => (
                  <div key={i} className="h-8 animate-pulse rounded bg-zinc-200 dark:bg-zinc-800" />
                ))}
              </div>
            )}
            {(showArchived ? archivedStatus : sessionsStatus) === "ready" && groups.length === 0 && (showArchived || filed.length === 0) && (
              <p className="px-3 py-4 text-sm text-zinc-500">{showArchived ? "No archived conversations." : "No conversations yet."}</p>
            )}
            <p id="session-keys-hint" className="sr-only">
              Up and down arrows move between chats; right arrow or Shift+F10 opens the chat&apos;s actions.
            </p>
            {!showArchived && (
              <SidebarFolders
                sessions={filed}
                renderSession={renderSession}
                onNewChat={(folderId) => {
                  setMobile(false);
                  actions.newChat();
                  useFolders.getState().setDraftFolder(folderId);
                }}
              />
            )}
            <ul
              aria-label={showArchived ? "Archived conversations" : "Conversations"}
              className={`min-h-8 space-y-2 rounded-lg ${unfile.over ? "bg-sky-100 ring-2 ring-sky-400 dark:bg-sky-900/40" : ""}`}
              data-testid="unfiled-chats"
              {...(showArchived ? {} : unfile.props)}
            >
              {groups.map((g) => (
                <li key={g.label}>
                  <h3 className="px-3 pb-0.5 text-[11px] font-medium uppercase tracking-wide text-zinc-500" id={`group-${g.label}`}>
                    {g.label}
                  </h3>
                  <ul aria-labelledby={`group-${g.label}`} className="space-y-0.5" data-testid="session-group" data-group={g.label}>
                    {g.sessions.map((s) => (
                      <li key={s.id}>{renderSession(s)}</li>
                    ))}
                  </ul>
                </li>
              ))}
            </ul>
            {hasMore && !showArchived && (
              <button type="button" className="btn-secondary my-2 w-full" onClick={() => void loadMoreSessions()}>
                Load more
              </button>
            )}
          </>
        )}
      </div>
      <div className="border-t border-zinc-200 p-2 dark:border-zinc-800">
        {(isAdmin ? [...NAV, ...ADMIN_NAV.filter((n) => accountsOn || !n.accounts)] : NAV).map(({ to, label, icon: Icon, end }) => (
          <NavLink
            key={to}
            to={to === "/" ? chatPath : to}
            end={end}
            onClick={() => setMobile(false)}
            className={({ isActive }) =>
              `flex items-center gap-2 rounded-lg px-3 py-2 text-sm ${
                isActive || (to === "/" && pathname.startsWith("/chat")) ? "bg-zinc-200/70 font-medium dark:bg-zinc-800" : "hover:bg-zinc-100 dark:hover:bg-zinc-800/60"
              }`
            }
          >
            <Icon size={16} aria-hidden /> {label}
          </NavLink>
        ))}
        <button
          type="button"
          onClick={actions.openSettings}
          className="flex w-full items-center gap-2 rounded-lg px-3 py-2 text-sm hover:bg-zinc-100 dark:hover:bg-zinc-800/60"
        >
          <Settings size={16} aria-hidden /> Settings
        </button>
      </div>
      <ConfirmDialog
        open={pendingDelete !== null}
        title="Delete conversation?"
        message={
          <>
            “{pendingDelete?.title}” and all its messages will be permanently deleted.
          </>
        }
        confirmLabel="Delete"
        danger
        onConfirm={() => void confirmDelete()}
        onCancel={() => setPendingDelete(null)}
      />
    </nav>
  );
}
