import {
  BookOpen,
  Briefcase,
  Download,
  LayoutDashboard,
  MessageSquare,
  PanelLeftClose,
  Pencil,
  Plus,
  Search,
  Settings,
  Trash2,
  X,
} from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { NavLink, useLocation, useNavigate } from "react-router";
import { describeError } from "@/api/client";
import { api } from "@/api/endpoints";
import type { ChatSessionOut, SearchResult } from "@/api/types";
import { useActions } from "@/hooks/use-commands";
import { exportSession } from "@/lib/export";
import { parseSnippet, relativeTime } from "@/lib/format";
import { useChat } from "@/stores/chat";
import { useUi } from "@/stores/ui";
import { ConfirmDialog } from "../ui/Dialog";

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

function SessionItem({ s, active, onDelete }: { s: ChatSessionOut; active: boolean; onDelete: () => void }) {
  const rename = useChat((st) => st.rename);
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(s.title);
  const close = useUi((st) => st.setMobileSidebar);

  const [serverTitle, setServerTitle] = useState(s.title);
  if (s.title !== serverTitle) {
    setServerTitle(s.title);
    setTitle(s.title);
  }

  if (editing) {
    return (
      <form
        className="px-1 py-0.5"
        onSubmit={(e) => {
          e.preventDefault();
          void rename(s.id, title);
          setEditing(false);
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
              setTitle(s.title);
              setEditing(false);
            }
          }}
          aria-label="Conversation title"
          className="input py-1"
        />
      </form>
    );
  }
  return (
    <div
      className={`group flex items-center rounded-lg ${
        active ? "bg-zinc-200/70 dark:bg-zinc-800" : "hover:bg-zinc-100 dark:hover:bg-zinc-800/60"
      }`}
      data-testid="session-item"
    >
      <NavLink
        to={`/chat/${s.id}`}
        onClick={() => close(false)}
        aria-current={active ? "page" : undefined}
        className="min-w-0 flex-1 px-3 py-2"
        title={s.title}
      >
        <span className="block truncate text-sm">{s.title}</span>
        <span className="block text-[11px] text-zinc-500">{relativeTime(s.updated_at)}</span>
      </NavLink>
      <div className="flex shrink-0 pr-1 opacity-100 md:opacity-0 md:group-focus-within:opacity-100 md:group-hover:opacity-100">
        <button type="button" className="btn-icon h-7 w-7" aria-label={`Rename ${s.title}`} onClick={() => setEditing(true)}>
          <Pencil size={14} />
        </button>
        <button
          type="button"
          className="btn-icon h-7 w-7"
          aria-label={`Export ${s.title}`}
          onClick={() => void exportSession(s.id, s.title, "markdown")}
        >
          <Download size={14} />
        </button>
        <button type="button" className="btn-icon h-7 w-7 hover:text-red-600" aria-label={`Delete ${s.title}`} onClick={onDelete}>
          <Trash2 size={14} />
        </button>
      </div>
    </div>
  );
}

const NAV = [
  { to: "/", label: "Chat", icon: MessageSquare, end: true },
  { to: "/jobs", label: "Batch Jobs", icon: Briefcase, end: true },
  { to: "/dashboard", label: "Dashboard", icon: LayoutDashboard, end: true },
  { to: "/learn", label: "Learn", icon: BookOpen, end: false },
];

export function Sidebar({ mobile = false }: { mobile?: boolean }) {
  const { sessions, sessionsStatus, hasMore, activeId, loadMoreSessions, remove } = useChat();
  const actions = useActions();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  const setMobile = useUi((s) => s.setMobileSidebar);
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
        <button
          type="button"
          className="btn-primary w-full"
          onClick={() => {
            setMobile(false);
            actions.newChat();
          }}
        >
          <Plus size={16} /> New chat
        </button>
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
      <div className="mt-2 min-h-0 flex-1 overflow-y-auto px-2" aria-busy={searching || sessionsStatus === "loading"}>
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
            {sessionsStatus === "loading" && sessions.length === 0 && (
              <div className="space-y-2 p-2" aria-label="Loading conversations">
                {[0, 1, 2].map((i) => (
                  <div key={i} className="h-8 animate-pulse rounded bg-zinc-200 dark:bg-zinc-800" />
                ))}
              </div>
            )}
            {sessionsStatus === "ready" && sessions.length === 0 && (
              <p className="px-3 py-4 text-sm text-zinc-500">No conversations yet.</p>
            )}
            <ul aria-label="Conversations" className="space-y-0.5">
              {sessions.map((s) => (
                <li key={s.id}>
                  <SessionItem s={s} active={s.id === activeId} onDelete={() => setPendingDelete(s)} />
                </li>
              ))}
            </ul>
            {hasMore && (
              <button type="button" className="btn-secondary my-2 w-full" onClick={() => void loadMoreSessions()}>
                Load more
              </button>
            )}
          </>
        )}
      </div>
      <div className="border-t border-zinc-200 p-2 dark:border-zinc-800">
        {NAV.map(({ to, label, icon: Icon, end }) => (
          <NavLink
            key={to}
            to={to}
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
