import { useCallback, useEffect, useState } from "react";
import { api } from "@/api/endpoints";
import type { WorkshopCurriculum, WorkshopPart, WorkshopProgress, WorkshopTask } from "@/api/types";
import { humanError } from "@/lib/errors";

/** The four pages of a task, in reading order, with their tab labels. */
export const PAGE_LABELS: Record<string, string> = {
  overview: "Overview",
  lab: "Lab",
  slides: "Slides",
  production_reality: "Production reality",
};

export const PART_NAMES: Record<string, string> = { "0": "Part 0", "1": "Part I", "2": "Part II", "3": "Part III" };

export interface WorkshopData {
  curriculum: WorkshopCurriculum | null;
  progress: WorkshopProgress | null;
  error: string | null;
  reload: () => void;
}

/** The curriculum and the caller's progress, both from the server (the page caches nothing else). */
export function useWorkshop(): WorkshopData {
  const [curriculum, setCurriculum] = useState<WorkshopCurriculum | null>(null);
  const [progress, setProgress] = useState<WorkshopProgress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let live = true;
    Promise.all([api.workshopCurriculum(), api.workshopProgress()])
      .then(([c, p]) => {
        if (!live) return;
        setCurriculum(c);
        setProgress(p);
        setError(null);
      })
      .catch((e: unknown) => live && setError(humanError(e).message));
    return () => {
      live = false;
    };
  }, [attempt]);
  const reload = useCallback(() => setAttempt((a) => a + 1), []);
  return { curriculum, progress, error, reload };
}

export function allTasks(curriculum: WorkshopCurriculum | null): { part: WorkshopPart; task: WorkshopTask }[] {
  return (curriculum?.parts ?? []).flatMap((part) => part.tasks.map((task) => ({ part, task })));
}

export function doneTasks(progress: WorkshopProgress | null): Map<string, string> {
  const done = new Map<string, string>();
  for (const t of progress?.tasks ?? []) if (t.done) done.set(t.task_id, t.completed_via ?? "manual");
  return done;
}

export const taskUrl = (id: string, page = "overview") => `/learn/workshop/${encodeURIComponent(id)}/${page}`;

/** Splits a deck into slides at lines holding only `---` (outside fenced code). */
export function splitSlides(markdown: string): string[] {
  const slides: string[] = [];
  let current: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (!fenced && line.trim() === "---") {
      slides.push(current.join("\n").trim());
      current = [];
    } else current.push(line);
  }
  slides.push(current.join("\n").trim());
  return slides.filter((s) => s.length > 0);
}
