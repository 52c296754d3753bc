import { Search } from "lucide-react";
import { useEffect, useMemo, useRef, useState } from "react";
import { useCommands } from "@/hooks/use-commands";
import { useUi } from "@/stores/ui";
import { Dialog } from "../ui/Dialog";

export function CommandPalette() {
  const open = useUi((s) => s.paletteOpen);
  const setOpen = useUi((s) => s.setPalette);
  const commands = useCommands();
  const [q, setQ] = useState("");
  const [sel, setSel] = useState(0);
  const listRef = useRef<HTMLUListElement>(null);

  // Reset the query each time the palette opens (state adjusted during render, not in an effect).
  const [wasOpen, setWasOpen] = useState(open);
  if (open !== wasOpen) {
    setWasOpen(open);
    if (open) {
      setQ("");
      setSel(0);
    }
  }

  const filtered = useMemo(() => {
    const needle = q.trim().toLowerCase();
    if (!needle) return commands;
    return commands.filter((c) => `${c.label} ${c.group}`.toLowerCase().includes(needle));
  }, [q, commands]);

  useEffect(() => {
    listRef.current?.querySelector(`[data-index="${sel}"]`)?.scrollIntoView({ block: "nearest" });
  }, [sel]);

  const run = (i: number) => {
    const c = filtered[i];
    if (!c) return;
    setOpen(false);
    c.run();
  };

  return (
    <Dialog open={open} onClose={() => setOpen(false)} title="Command palette" className="max-w-xl overflow-hidden">
      <div className="flex items-center gap-2 border-b border-zinc-200 px-3 dark:border-zinc-800">
        <Search size={16} className="text-zinc-400" aria-hidden />
        <input
          autoFocus
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            setSel(0);
          }}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown") {
              e.preventDefault();
              setSel((s) => Math.min(filtered.length - 1, s + 1));
            } else if (e.key === "ArrowUp") {
              e.preventDefault();
              setSel((s) => Math.max(0, s - 1));
            } else if (e.key === "Enter") {
              e.preventDefault();
              run(sel);
            }
          }}
          placeholder="Type a command or search chats…"
          aria-label="Search commands"
          role="combobox"
          aria-expanded="true"
          aria-controls="palette-list"
          aria-activedescendant={filtered[sel] ? `cmd-${filtered[sel].id}` : undefined}
          className="h-12 flex-1 bg-transparent text-sm outline-none"
        />
      </div>
      <ul id="palette-list" ref={listRef} role="listbox" aria-label="Commands" className="max-h-80 overflow-y-auto p-1">
        {filtered.length === 0 && <li className="p-4 text-center text-sm text-zinc-500">No matching commands</li>}
        {filtered.map((c, i) => {
          const header = c.group !== filtered[i - 1]?.group ? c.group : null;
          return (
            <li key={c.id} role="presentation">
              {header && <div className="px-2 pb-1 pt-2 text-xs font-medium text-zinc-500">{header}</div>}
              <div
                id={`cmd-${c.id}`}
                role="option"
                aria-selected={i === sel}
                data-index={i}
                onMouseEnter={() => setSel(i)}
                onClick={() => run(i)}
                className={`flex cursor-pointer items-center justify-between rounded-md px-2 py-2 text-sm ${
                  i === sel ? "bg-accent-600 text-white" : ""
                }`}
              >
                <span className="truncate">{c.label}</span>
                {c.hint && <span className={`ml-3 shrink-0 text-xs [@media(hover:none)]:hidden ${i === sel ? "text-white/80" : "text-zinc-500"}`}>{c.hint}</span>}
              </div>
            </li>
          );
        })}
      </ul>
    </Dialog>
  );
}
