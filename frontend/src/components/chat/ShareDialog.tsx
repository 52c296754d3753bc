/**
 * Sharing a chat (issue 25.11): make a read-only link to the chat as it is now, copy it, or
 * stop sharing. The link's token is shown only when it is made (the server keeps its hash);
 * sharing again makes a new link with the chat's newer messages and ends the old one.
 */
import { Check, Copy, Link2, Link2Off } from "lucide-react";
import { useEffect, useState } from "react";
import { shareApi, shareLink, type ShareStatus } from "@/api/organise";
import { copyText } from "@/lib/clipboard";
import { toast, toastError } from "@/stores/toasts";
import { Dialog } from "../ui/Dialog";

export function ShareDialog({ sessionId, open, onClose }: { sessionId: string; open: boolean; onClose: () => void }) {
  const [status, setStatus] = useState<ShareStatus | null>(null);
  const [link, setLink] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState(false);

  useEffect(() => {
    if (!open) return;
    let live = true;
    shareApi
      .status(sessionId)
      .then((s) => live && setStatus(s))
      .catch((e: unknown) => live && toastError("Could not read the chat's sharing", e));
    return () => {
      live = false;
    };
  }, [open, sessionId]);

  const share = async () => {
    setBusy(true);
    try {
      const made = await shareApi.create(sessionId);
      setLink(shareLink(made.url));
      setStatus({ shared: true, created_at: made.created_at, message_count: made.message_count });
    } catch (e) {
      toastError("Could not share the chat", e);
    } finally {
      setBusy(false);
    }
  };

  const stop = async () => {
    setBusy(true);
    try {
      await shareApi.revoke(sessionId);
      setLink(null);
      setStatus({ shared: false, created_at: null, message_count: null });
      toast.success("The link no longer works");
    } catch (e) {
      toastError("Could not stop sharing", e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={open} onClose={onClose} title="Share chat">
      <div className="space-y-4 p-5">
        <h2 className="text-lg font-semibold">Share chat</h2>
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          Anyone with the link can read this chat as it is now, without an account; messages you add later are not shown. Signed-in
          readers can continue it as their own copy. Your name and email are not shown.
        </p>
        {link && (
          <div className="flex gap-2">
            <input readOnly value={link} aria-label="Share link" className="input flex-1 font-mono text-xs" onFocus={(e) => e.target.select()} />
            <button
              type="button"
              className="btn-secondary"
              onClick={async () => {
                if (await copyText(link)) {
                  setCopied(true);
                  setTimeout(() => setCopied(false), 1500);
                } else toast.error("Copy failed");
              }}
            >
              {copied ? <Check size={14} aria-hidden /> : <Copy size={14} aria-hidden />} {copied ? "Copied" : "Copy link"}
            </button>
          </div>
        )}
        {status?.shared && !link && (
          <p className="text-sm" data-testid="share-status">
            Shared since {status.created_at ? new Date(status.created_at).toLocaleString() : "earlier"} ({status.message_count ?? 0} messages).
            The link was shown when it was made; make a new one to copy it again.
          </p>
        )}
        <div className="flex flex-wrap justify-end gap-2">
          {status?.shared && (
            <button type="button" className="btn-danger" disabled={busy} onClick={() => void stop()}>
              <Link2Off size={14} aria-hidden /> Stop sharing
            </button>
          )}
          <button type="button" className="btn-primary" disabled={busy || status === null} onClick={() => void share()}>
            <Link2 size={14} aria-hidden /> {status?.shared ? "New link" : "Create link"}
          </button>
          <button type="button" className="btn-secondary" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </Dialog>
  );
}
