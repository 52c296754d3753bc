import { CheckCircle2, Circle, PlayCircle } from "lucide-react";
import { Link } from "react-router";
import { allTasks, doneTasks, PAGE_LABELS, PART_NAMES, taskUrl, useWorkshop } from "./workshop-data";

/** The workshop's curriculum by part, with the learner's progress and where to continue. */
export function WorkshopIndex() {
  const { curriculum, progress, error, reload } = useWorkshop();
  if (error) {
    return (
      <div className="card text-sm">
        <p className="font-medium">The workshop could not be loaded</p>
        <p className="mt-1 text-zinc-500">{error}</p>
        <button type="button" className="btn-secondary mt-3" onClick={reload}>
          Retry
        </button>
      </div>
    );
  }
  if (!curriculum) {
    return <div className="h-24 animate-pulse rounded bg-zinc-100 dark:bg-zinc-900" aria-label="Loading the workshop" />;
  }
  if (curriculum.parts.length === 0) return null;
  const done = doneTasks(progress);
  const tasks = allTasks(curriculum);
  const last = progress?.last ?? null;
  const lastTask = last ? tasks.find((t) => t.task.id === last.task_id) : undefined;
  const next = tasks.find((t) => !done.has(t.task.id));
  return (
    <section aria-labelledby="workshop-heading">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h3 id="workshop-heading" className="text-lg font-semibold">
          Workshop
        </h3>
        <span className="text-sm text-zinc-500" data-testid="workshop-total">
          {done.size} of {tasks.length} tasks done
        </span>
      </div>
      <p className="mt-1 text-sm text-zinc-500">
        Production system design taught from this codebase. Each task: overview, lab (checked with{" "}
        <code>make lab-check</code>), slides, production reality.
      </p>
      {(lastTask || next) && (
        <Link
          to={lastTask && last ? taskUrl(lastTask.task.id, last.page) : taskUrl(next?.task.id ?? "0.1")}
          className="card mt-4 flex items-center gap-3 border-accent-500 hover:bg-zinc-50 dark:hover:bg-zinc-900"
          data-testid="workshop-continue"
        >
          <PlayCircle size={22} className="shrink-0 text-accent-600" aria-hidden />
          <span className="min-w-0">
            <span className="block text-sm font-medium">{lastTask ? "Continue where you left off" : "Start the workshop"}</span>
            <span className="block truncate text-sm text-zinc-500">
              {lastTask && last
                ? `${lastTask.task.title} · ${PAGE_LABELS[last.page] ?? last.page}`
                : next?.task.title}
            </span>
          </span>
        </Link>
      )}
      {curriculum.parts.map((part) => {
        const partDone = part.tasks.filter((t) => done.has(t.id)).length;
        return (
          <div key={part.id} className="mt-6" data-testid={`workshop-part-${part.id}`}>
            <div className="flex items-baseline justify-between gap-2">
              <h4 className="font-medium">
                <span className="text-zinc-500">{PART_NAMES[part.id] ?? `Part ${part.id}`} · </span>
                {part.title.replace(/^Part [0-9IVX]+ — /, "")}
              </h4>
              <span className="shrink-0 text-xs text-zinc-500">
                {partDone}/{part.tasks.length}
              </span>
            </div>
            <div
              className="mt-2 h-1.5 overflow-hidden rounded bg-zinc-100 dark:bg-zinc-800"
              role="progressbar"
              aria-label={`${part.title}: tasks done`}
              aria-valuemin={0}
              aria-valuemax={part.tasks.length}
              aria-valuenow={partDone}
            >
              <div className="h-full bg-accent-500" style={{ width: `${(100 * partDone) / Math.max(1, part.tasks.length)}%` }} />
            </div>
            <ul className="mt-3 grid grid-cols-1 gap-2 sm:grid-cols-2">
              {part.tasks.map((task) => {
                const via = done.get(task.id);
                return (
                  <li key={task.id}>
                    <Link to={taskUrl(task.id)} className="card block h-full hover:border-accent-500" data-testid="workshop-task">
                      <span className="flex items-start gap-2 font-medium">
                        {via ? (
                          <CheckCircle2 size={16} className="mt-0.5 shrink-0 text-green-600" aria-label="Done" />
                        ) : (
                          <Circle size={16} className="mt-0.5 shrink-0 text-zinc-400" aria-label="Not done" />
                        )}
                        <span>{task.title}</span>
                      </span>
                      <span className="mt-1 line-clamp-2 block text-sm text-zinc-500">{task.summary}</span>
                    </Link>
                  </li>
                );
              })}
            </ul>
          </div>
        );
      })}
    </section>
  );
}
