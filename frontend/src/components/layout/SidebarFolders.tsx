/**
 * Folders in the sidebar (issue 25.13), above the date groups: each folder collapses (kept
 * across reloads), takes chats dropped on it, and has a menu (new chat in it, its settings
 * for new chats, rename, delete). Chats move with drag and drop or with their own menu ("Move to …").
 */
import { ChevronDown, ChevronRight, Folder, FolderPlus, MoreHorizontal, Pencil, Plus, Settings2, Trash2 } from "lucide-react";
import type React from "react";
import { useEffect, useState, type ReactNode } from "react";
import type { FolderOut } from "@/api/organise";
import type { ChatSessionOut } from "@/api/types";
import { useChat } from "@/stores/chat";
import { useFolders } from "@/stores/folders";
import { ConfirmDialog } from "../ui/Dialog";
import { FolderSettingsDialog } from "./FolderSettingsDialog";

/** The drag payload of a chat row. */
export const SESSION_DRAG_TYPE = "application/x-sable-session";

/** Drop-target props that move the dragged chat into `folderId` (null: out of folders). */
export function useChatDrop(folderId: string | null) {
  const [over, setOver] = useState(false);
  const setFolder = useChat((s) => s.setFolder);
  const props = {
    onDragOver: (e: React.DragEvent) => {
      if (!e.dataTransfer.types.includes(SESSION_DRAG_TYPE)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      setOver(true);
    },
    onDragLeave: () => setOver(false),
    onDrop: (e: React.DragEvent) => {
      setOver(false);
      const id = e.dataTransfer.getData(SESSION_DRAG_TYPE);
      if (!id) return;
      e.preventDefault();
      const session = useChat.getState().sessions.find((s) => s.id === id);
      if (session && (session.folder_id ?? null) !== folderId) void setFolder(id, folderId);
    },
  };
  return { over, props };
}

/** A name typed in place (new folder, rename): Enter saves, Esc or an empty name cancels. */
function NameInput({ initial, label, onDone }: { initial: string; label: string; onDone: (name: string | null) => void }) {
  const [name, setName] = useState(initial);
  return (
    <form
      className="px-1 py-0.5"
      onSubmit={(e) => {
        e.preventDefault();
        onDone(name.trim() || null);
      }}
    >
      <input
        autoFocus
        value={name}
        maxLength={100}
        onChange={(e) => setName(e.target.value)}
        onBlur={() => onDone(name.trim() || null)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.stopPropagation();
            onDone(null);
          }
        }}
        aria-label={label}
        className="input py-1"
      />
    </form>
  );
}

function FolderBlock({
  folder,
  sessions,
  renderSession,
  onNewChat,
  onDelete,
}: {
  folder: FolderOut;
  sessions: ChatSessionOut[];
  renderSession: (s: ChatSessionOut) => ReactNode;
  onNewChat: () => void;
  onDelete: () => void;
}) {
  const collapsed = useFolders((s) => s.collapsed.includes(folder.id));
  const { toggle, update } = useFolders.getState();
  const [renaming, setRenaming] = useState(false);
  const [menu, setMenu] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const { over, props } = useChatDrop(folder.id);
  const listId = `folder-${folder.id}`;
  // Expanded: its chats are read with the folder filter, also those older than the loaded pages.
  useEffect(() => {
    if (!collapsed) void useChat.getState().loadFolderSessions(folder.id);
  }, [collapsed, folder.id]);

  if (renaming) {
    return (
      <NameInput
        initial={folder.name}
        label="Folder name"
        onDone={(name) => {
          setRenaming(false);
          if (name && name !== folder.name) void update(folder.id, { name });
        }}
      />
    );
  }
  const items = [
    { label: "New chat in folder", icon: Plus, run: onNewChat },
    { label: "Folder settings", icon: Settings2, run: () => setSettingsOpen(true) },
    { label: "Rename folder", icon: Pencil, run: () => setRenaming(true) },
    { label: "Delete folder", icon: Trash2, run: onDelete, danger: true },
  ];
  return (
    <div {...props} data-testid="folder" data-folder={folder.name} className={`rounded-lg ${over ? "bg-sky-100 ring-2 ring-sky-400 dark:bg-sky-900/40" : ""}`}>
      <div className="group relative flex items-center rounded-lg hover:bg-zinc-100 dark:hover:bg-zinc-800/60">
        <button
          type="button"
          onClick={() => toggle(folder.id)}
          aria-expanded={!collapsed}
          aria-controls={listId}
          className="flex min-w-0 flex-1 items-center gap-1.5 rounded-lg px-2 py-1.5 text-left text-sm font-medium focus-visible:outline-offset-[-2px]"
          title={folder.system_prompt ? `New chats here start with: ${folder.system_prompt}` : folder.name}
        >
          {collapsed ? <ChevronRight size={14} aria-hidden /> : <ChevronDown size={14} aria-hidden />}
          <Folder size={14} aria-hidden className="shrink-0 text-zinc-500" />
          <span className="truncate">{folder.name}</span>
          <span className="ml-auto pr-1 text-[11px] font-normal text-zinc-500" aria-label={`${sessions.length} chats`}>
            {sessions.length}
          </span>
        </button>
        <button
          type="button"
          className="btn-icon mr-1 h-7 w-7 shrink-0"
          aria-label={`Folder actions for ${folder.name}`}
          aria-haspopup="menu"
          aria-expanded={menu}
          onClick={() => setMenu(!menu)}
        >
          <MoreHorizontal size={16} />
        </button>
        {menu && (
          <div
            role="menu"
            aria-label={`Folder actions for ${folder.name}`}
            className="absolute right-1 top-full z-50 w-48 rounded-lg border border-zinc-200 bg-white p-1 shadow-lg dark:border-zinc-700 dark:bg-zinc-900"
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.stopPropagation();
                setMenu(false);
              }
            }}
          >
            {items.map(({ label, icon: Icon, run, danger }) => (
              <button
                key={label}
                type="button"
                role="menuitem"
                autoFocus={label === items[0]?.label}
                onClick={() => {
                  setMenu(false);
                  run();
                }}
                className={`flex w-full items-center gap-2 rounded-md px-2.5 py-1.5 text-left text-sm hover:bg-zinc-100 focus:bg-zinc-100 dark:hover:bg-zinc-800 dark:focus:bg-zinc-800 ${danger ? "text-red-600 dark:text-red-400" : ""}`}
              >
                <Icon size={14} aria-hidden /> {label}
              </button>
            ))}
          </div>
        )}
      </div>
      {!collapsed && (
        <ul id={listId} aria-label={`Chats in ${folder.name}`} className="ml-3 space-y-0.5 border-l border-zinc-200 pl-1 dark:border-zinc-800">
          {sessions.length === 0 && <li className="px-3 py-1 text-xs text-zinc-500">Empty: drag a chat here, or use a chat&apos;s “Move to” menu.</li>}
          {sessions.map((s) => (
            <li key={s.id}>{renderSession(s)}</li>
          ))}
        </ul>
      )}
      <FolderSettingsDialog folder={folder} open={settingsOpen} onClose={() => setSettingsOpen(false)} />
    </div>
  );
}

/** The folders block of the sidebar (unarchived chats only). */
export function SidebarFolders({
  sessions,
  renderSession,
  onNewChat,
}: {
  /** The unarchived chats whose folder is one of `folders`. */
  sessions: ChatSessionOut[];
  renderSession: (s: ChatSessionOut) => ReactNode;
  onNewChat: (folderId: string) => void;
}) {
  const folders = useFolders((s) => s.folders);
  const [creating, setCreating] = useState(false);
  const [pendingDelete, setPendingDelete] = useState<FolderOut | null>(null);

  const confirmDelete = async () => {
    const folder = pendingDelete;
    setPendingDelete(null);
    if (!folder || !(await useFolders.getState().remove(folder.id))) return;
    // The server put its chats back to no folder; so does the list, without a reload.
    useChat.setState((s) => ({ sessions: s.sessions.map((x) => (x.folder_id === folder.id ? { ...x, folder_id: null } : x)) }));
  };

  return (
    <section aria-labelledby="folders-heading" className="mb-2">
      <div className="flex items-center justify-between px-3 pb-0.5">
        <h3 id="folders-heading" className="text-[11px] font-medium uppercase tracking-wide text-zinc-500">
          Folders
        </h3>
        <button type="button" className="btn-icon h-6 w-6" aria-label="New folder" title="New folder" onClick={() => setCreating(true)}>
          <FolderPlus size={14} />
        </button>
      </div>
      {creating && (
        <NameInput
          initial=""
          label="New folder name"
          onDone={(name) => {
            setCreating(false);
            if (name) void useFolders.getState().create(name);
          }}
        />
      )}
      <div className="space-y-0.5">
        {folders.map((f) => (
          <FolderBlock
            key={f.id}
            folder={f}
            sessions={sessions.filter((s) => s.folder_id === f.id)}
            renderSession={renderSession}
            onNewChat={() => onNewChat(f.id)}
            onDelete={() => setPendingDelete(f)}
          />
        ))}
      </div>
      <ConfirmDialog
        open={pendingDelete !== null}
        title="Delete folder?"
        message={<>“{pendingDelete?.name}” will be deleted. Its chats are kept and go back to the chat list.</>}
        confirmLabel="Delete folder"
        danger
        onConfirm={() => void confirmDelete()}
        onCancel={() => setPendingDelete(null)}
      />
    </section>
  );
}
