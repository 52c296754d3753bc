import { api, downloadFromUrl } from "@/api/endpoints";
import { toast, toastError } from "@/stores/toasts";

function slug(title: string): string {
  return (
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "chat"
  );
}

/** Downloads a conversation through the server's export endpoint. */
export async function exportSession(id: string, title: string, format: "markdown" | "json"): Promise<void> {
  try {
    await downloadFromUrl(api.exportUrl(id, format), `${slug(title)}.${format === "markdown" ? "md" : "json"}`);
    toast.success("Chat exported");
  } catch (e) {
    toastError("Export failed", e);
  }
}
