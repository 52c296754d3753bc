/**
 * A chat's knowledge (issue 24): the files and collections its answers are grounded in,
 * `knowledge: {collection_ids, file_ids}` on the session (both empty: none).
 */
import type { CollectionOut, FileOut } from "@/api/types";

/** As the UI keeps it: both lists always present (the wire's may be absent). */
export interface Knowledge {
  collection_ids: string[];
  file_ids: string[];
}

export const NO_KNOWLEDGE: Knowledge = { collection_ids: [], file_ids: [] };

const ids = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** A session's knowledge, read leniently (a gateway without knowledge sends none). */
export function knowledgeOf(session: object | undefined | null): Knowledge {
  const k: unknown = session && "knowledge" in session ? session.knowledge : null;
  if (!k || typeof k !== "object") return NO_KNOWLEDGE;
  const o = k as Record<string, unknown>;
  return { collection_ids: ids(o["collection_ids"]), file_ids: ids(o["file_ids"]) };
}

export const hasKnowledge = (k: Knowledge) => k.collection_ids.length > 0 || k.file_ids.length > 0;

/** Adds (`on`) or removes an id, keeping the order and no repeats. */
export function toggleId(list: string[], id: string, on: boolean): string[] {
  const rest = list.filter((x) => x !== id);
  return on ? [...rest, id] : rest;
}

export interface KnowledgeItem {
  kind: "file" | "collection";
  id: string;
  name: string;
  /** Not among the caller's files/collections any more (deleted since). */
  missing: boolean;
}

/**
 * What the chat header shows: each attached collection and file by name. Until the lists are
 * loaded (`known` false) an unknown id is not called missing.
 */
export function knowledgeItems(k: Knowledge, files: FileOut[], collections: CollectionOut[], known: boolean): KnowledgeItem[] {
  const col = new Map(collections.map((c) => [c.id, c.name]));
  const fil = new Map(files.map((f) => [f.id, f.filename]));
  return [
    ...k.collection_ids.map((id) => ({ kind: "collection" as const, id, name: col.get(id) ?? "a collection", missing: known && !col.has(id) })),
    ...k.file_ids.map((id) => ({ kind: "file" as const, id, name: fil.get(id) ?? "a file", missing: known && !fil.has(id) })),
  ];
}

/** "3 files", "1 collection, 2 files": the chat's knowledge in a few words. */
export function knowledgeSummary(k: Knowledge): string {
  const parts: string[] = [];
  const c = k.collection_ids.length;
  const f = k.file_ids.length;
  if (c) parts.push(`${c} collection${c === 1 ? "" : "s"}`);
  if (f) parts.push(`${f} file${f === 1 ? "" : "s"}`);
  return parts.join(", ");
}
